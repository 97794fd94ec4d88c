import Chanjing
import Foundation
import VideoContract

/// One entry of the submission ledger, a Kafka topic whose partition p describes the requests of
/// requests-topic partition p. Entries are written in batches (one Kafka record holds the entries
/// of one round trip); read in order, the latest entry of a request wins.
///
/// - `intent`: a submit is about to be sent.
/// - `outcome`: how the request ended (the result, without its source and time).
/// - `adoption`: a task found by reconciliation and adopted by this request.
struct LedgerEntry: Codable, Sendable, Equatable {
    enum Kind: String, Codable, Sendable {
        case intent, outcome, adoption
    }

    var kind: Kind
    var requestID: String
    /// ``LedgerEntry/hash(of:)`` of the submit body: the same `request_id` with another body is
    /// a conflict, never answered with this request's outcome.
    var bodyHash: String
    /// Unix milliseconds when the entry was written.
    var at: Int64
    /// For outcomes.
    var status: VideoResult.Status?
    var creationID: String?
    var error: VideoResult.ErrorDetail?
    var attempts: Int?
    var retries: VideoResult.Retries?
    var chanjingTraceID: String?
    var reconciled: Bool?
    /// For outcomes: when the intent before the first submit was written (Unix milliseconds).
    var intentAt: Int64?

    enum CodingKeys: String, CodingKey {
        case kind, at, status, error, attempts, retries, reconciled
        case intentAt = "intent_at"
        case requestID = "request_id"
        case bodyHash = "body_hash"
        case creationID = "creation_id"
        case chanjingTraceID = "chanjing_trace_id"
    }

    /// When the entry was written.
    var date: Date { Self.date(at) }

    /// When the intent before the first submit was written: an outcome's `intent_at`, else `at`.
    var intentDate: Date { Self.date(intentAt ?? at) }

    static func now() -> Int64 { milliseconds(Date()) }

    static func milliseconds(_ date: Date) -> Int64 { Int64(date.timeIntervalSince1970 * 1000) }

    static func date(_ milliseconds: Int64) -> Date { Date(timeIntervalSince1970: Double(milliseconds) / 1000) }

    /// The Kafka record value `{"entries":[...]}` holding entries already ``encoded()``: the
    /// writer assembles records on the producer's poll thread, so nothing is encoded there.
    static func record(_ encodedEntries: [[UInt8]]) -> [UInt8] {
        var value = Array(#"{"entries":["#.utf8)
        value.reserveCapacity(value.count + encodedEntries.reduce(3) { $0 + $1.count + 1 })
        for (index, entry) in encodedEntries.enumerated() {
            if index > 0 { value.append(UInt8(ascii: ",")) }
            value.append(contentsOf: entry)
        }
        value.append(contentsOf: "]}".utf8)
        return value
    }

    /// A stable 64-bit FNV-1a hash of the submit body's fields, in hex. It detects a different
    /// body under the same `request_id`; it is not a security measure. (Hashed field by field,
    /// each ended by a 0 byte, rather than through a JSON encoder: this runs for every request.)
    static func hash(of body: SubmitTaskRequest) -> String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        func mix(_ text: String) {
            for byte in text.utf8 {
                hash ^= UInt64(byte)
                hash = hash &* 0x0000_0100_0000_01b3
            }
            hash ^= 0
            hash = hash &* 0x0000_0100_0000_01b3
        }
        mix(body.prompt)
        mix(String(body.referenceImageURLs.count))
        body.referenceImageURLs.forEach(mix)
        mix(String(body.creationType))
        mix(body.aspectRatio)
        mix(body.qualityMode)
        mix(String(body.videoDuration))
        mix(body.modelCode)
        return hashText(hash)
    }

    /// A body hash as entries carry it: lowercase hex without leading zeros.
    static func hashText(_ hash: UInt64) -> String { String(hash, radix: 16) }

    /// The number behind a body hash, or nil for text ``hashText(_:)`` cannot have written.
    static func hashNumber(_ text: String) -> UInt64? {
        UInt64(text, radix: 16).flatMap { hashText($0) == text ? $0 : nil }
    }
}

extension VideoRequest {
    /// The Chanjing submit body for this request.
    var submitBody: SubmitTaskRequest {
        SubmitTaskRequest(
            prompt: prompt,
            referenceImageURLs: referenceImageURLs,
            creationType: creationType,
            aspectRatio: aspectRatio,
            qualityMode: qualityMode,
            videoDuration: videoDuration,
            modelCode: modelCode
        )
    }
}
