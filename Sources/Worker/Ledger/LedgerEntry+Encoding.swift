import Foundation
import VideoContract

extension LedgerEntry {
    /// This entry's JSON, one element of a record's `entries`, with its keys sorted.
    ///
    /// Written field by field rather than through `JSONEncoder`: two entries are encoded per
    /// request, and `JSONEncoder` took about 7% of the worker's CPU in benchmark scenario 1.
    /// The rare `error` still goes through `JSONEncoder`. `LedgerEntryEncodingTests` checks
    /// that `JSONDecoder` reads back every field.
    func encoded() -> [UInt8] {
        var json = JSONObjectWriter()
        json.field("at", at)
        json.field("attempts", attempts)
        json.field("body_hash", bodyHash)
        json.field("chanjing_trace_id", chanjingTraceID)
        json.field("creation_id", creationID)
        if let error {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            // Strings and numbers: encoding cannot fail.
            json.raw("error", Array(try! encoder.encode(error)))
        }
        json.field("intent_at", intentAt)
        json.field("kind", kind.rawValue)
        json.field("reconciled", reconciled)
        json.field("request_id", requestID)
        if let retries {
            var nested = JSONObjectWriter()
            nested.field("ambiguous", retries.ambiguous)
            nested.field("safe", retries.safe)
            json.raw("retries", nested.finished())
        }
        json.field("status", status?.rawValue)
        return json.finished()
    }
}

/// Writes one JSON object, field by field, in the order given; nil values are left out, as
/// `JSONEncoder` leaves out nil optionals.
struct JSONObjectWriter {
    private var bytes: [UInt8] = [UInt8(ascii: "{")]

    init() {
        bytes.reserveCapacity(256)
    }

    mutating func field(_ key: String, _ value: String?) {
        guard let value else { return }
        self.key(key)
        string(value)
    }

    mutating func field(_ key: String, _ value: (some BinaryInteger)?) {
        guard let value else { return }
        self.key(key)
        bytes.append(contentsOf: String(value).utf8)
    }

    mutating func field(_ key: String, _ value: Bool?) {
        guard let value else { return }
        self.key(key)
        bytes.append(contentsOf: (value ? "true" : "false").utf8)
    }

    /// A field whose value is JSON already.
    mutating func raw(_ key: String, _ json: [UInt8]) {
        self.key(key)
        bytes.append(contentsOf: json)
    }

    /// The object, closed.
    consuming func finished() -> [UInt8] {
        bytes.append(UInt8(ascii: "}"))
        return bytes
    }

    private mutating func key(_ key: String) {
        if bytes.count > 1 { bytes.append(UInt8(ascii: ",")) }
        string(key)
        bytes.append(UInt8(ascii: ":"))
    }

    /// A JSON string (RFC 8259): quotes, backslashes and control characters escaped, all else
    /// as UTF-8.
    private mutating func string(_ text: String) {
        bytes.append(UInt8(ascii: "\""))
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "\""): bytes.append(contentsOf: #"\""#.utf8)
            case UInt8(ascii: "\\"): bytes.append(contentsOf: #"\\"#.utf8)
            case UInt8(ascii: "\n"): bytes.append(contentsOf: #"\n"#.utf8)
            case UInt8(ascii: "\r"): bytes.append(contentsOf: #"\r"#.utf8)
            case UInt8(ascii: "\t"): bytes.append(contentsOf: #"\t"#.utf8)
            case 0..<0x20:
                let hex = String(byte, radix: 16)
                bytes.append(contentsOf: #"\u00"#.utf8)
                if hex.count == 1 { bytes.append(UInt8(ascii: "0")) }
                bytes.append(contentsOf: hex.utf8)
            default: bytes.append(byte)
            }
        }
        bytes.append(UInt8(ascii: "\""))
    }
}
