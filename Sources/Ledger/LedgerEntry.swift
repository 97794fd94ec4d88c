import Foundation
import Kafka

/// One entry of the submission ledger, a Kafka topic whose partition p describes the requests of
/// requests-topic partition p. Entries are written in batches (one Kafka record holds the entries
/// of one round trip); read in order, the latest entry of a request wins.
///
/// - `intent`: a submit is about to be sent.
/// - `outcome`: how the request ended.
/// - `adoption`: a task found by reconciliation and adopted by this request.
///
/// The ledger's own storage format, in types of its own (its one codec is `LedgerCodec.swift`):
/// what a request's next owner needs to answer it again. The results contract can change
/// without it.
public struct LedgerEntry: Sendable, Equatable {
    public enum Kind: String, Sendable {
        case intent, outcome, adoption
    }

    /// How a request ended, for outcomes.
    public enum Status: String, Sendable, CaseIterable {
        case submitted, rejected, failed
    }

    /// How a followed task ended, once its completion was published.
    public enum Completion: String, Sendable, CaseIterable {
        case succeeded, failed, expired
    }

    /// Why a request failed or was rejected, for outcomes.
    public struct ErrorDetail: Sendable, Equatable {
        /// The result's stable error code, as text.
        public var code: String
        public var message: String
        public var field: String?
        public var chanjingCode: Int?

        public init(code: String, message: String, field: String? = nil, chanjingCode: Int? = nil) {
            self.code = code
            self.message = message
            self.field = field
            self.chanjingCode = chanjingCode
        }
    }

    /// What following a submitted task to its video needs of its request, kept with the
    /// `submitted` outcomes written while tracking is on: the completion is keyed and carries
    /// headers like the result, and names the request's offset.
    public struct Follow: Sendable, Equatable {
        /// The request's offset in its requests partition.
        public var offset: Int64
        /// The request's Kafka key.
        public var key: [UInt8]?
        /// The request's headers carried to the completion.
        public var headers: [KafkaHeader]

        public init(offset: Int64, key: [UInt8]?, headers: [KafkaHeader]) {
            self.offset = offset
            self.key = key
            self.headers = headers
        }
    }

    /// Retries made before the outcome, by kind.
    public struct Retries: Sendable, Equatable {
        public var safe: Int
        public var ambiguous: Int

        public init(safe: Int = 0, ambiguous: Int = 0) {
            self.safe = safe
            self.ambiguous = ambiguous
        }
    }

    public var kind: Kind
    public var requestID: String
    /// A hash of the submit body (``hashText(_:)``): the same `request_id` with another body is a
    /// conflict, never answered with this request's outcome.
    public var bodyHash: String
    /// Unix milliseconds when the entry was written.
    public var at: Int64
    /// For outcomes.
    public var status: Status?
    /// For outcomes (the task created) and adoptions (the task adopted).
    public var creationID: String?
    public var error: ErrorDetail?
    public var attempts: Int?
    public var retries: Retries?
    public var chanjingTraceID: String?
    public var reconciled: Bool?
    /// For intents written again and outcomes: when the intent before the first submit was
    /// written (Unix milliseconds).
    public var intentAt: Int64?
    /// For outcomes: the offset of the request record they answer. That record delivered again
    /// gets the same answer; another record of the same request may be a new attempt. (A
    /// followed task's `follow` holds it too, for the previous version's readers.)
    public var requestOffset: Int64?
    /// For `submitted` outcomes written while tracking is on: the task is followed to its end.
    public var follow: Follow?
    /// For outcomes written again once the task's completion was published: how it ended. The
    /// task is no longer followed.
    public var completion: Completion?

    public init(
        kind: Kind, requestID: String, bodyHash: String, at: Int64, status: Status? = nil, creationID: String? = nil, error: ErrorDetail? = nil,
        attempts: Int? = nil, retries: Retries? = nil, chanjingTraceID: String? = nil, reconciled: Bool? = nil, intentAt: Int64? = nil,
        requestOffset: Int64? = nil, follow: Follow? = nil, completion: Completion? = nil
    ) {
        self.requestOffset = requestOffset
        self.follow = follow
        self.completion = completion
        self.kind = kind
        self.requestID = requestID
        self.bodyHash = bodyHash
        self.at = at
        self.status = status
        self.creationID = creationID
        self.error = error
        self.attempts = attempts
        self.retries = retries
        self.chanjingTraceID = chanjingTraceID
        self.reconciled = reconciled
        self.intentAt = intentAt
    }

    /// When the entry was written.
    public var date: Date { Self.date(at) }

    /// When the intent before the first submit was written: the entry's `intent_at`, else `at`.
    public var intentDate: Date { Self.date(intentAt ?? at) }

    public static func now() -> Int64 { milliseconds(Date()) }

    public static func milliseconds(_ date: Date) -> Int64 { Int64(date.timeIntervalSince1970 * 1000) }

    public static func date(_ milliseconds: Int64) -> Date { Date(timeIntervalSince1970: Double(milliseconds) / 1000) }

    /// A body hash as entries carry it: lowercase hex without leading zeros.
    public static func hashText(_ hash: UInt64) -> String { String(hash, radix: 16) }

    /// The number behind a body hash, or nil for text ``hashText(_:)`` cannot have written.
    static func hashNumber(_ text: String) -> UInt64? {
        UInt64(text, radix: 16).flatMap { hashText($0) == text ? $0 : nil }
    }
}
