/// What the ledger keeps in memory of a request's latest intent or outcome, for as long as
/// retention keeps its record: millions of requests at production rates. So it is much smaller
/// than the ``LedgerEntry`` it comes from: the request ID is held as a ``RequestKey`` (the
/// dictionary's key, not stored again), the body hash as a number, Chanjing's IDs as
/// ``HeldText`` (16 bytes instead of a string of their own), an outcome's fields in one
/// allocation that intents do without, and an error (rare) in another.
struct HeldEntry: Sendable {
    /// An outcome's fields.
    final class Outcome: Sendable {
        let status: LedgerEntry.Status?
        let creationID: HeldText?
        let chanjingTraceID: HeldText?
        let attempts: Int?
        let retries: LedgerEntry.Retries?
        let reconciled: Bool?
        let completion: LedgerEntry.Completion?
        let requestOffset: Int64?
        let error: ErrorBox?

        init(_ entry: LedgerEntry) {
            status = entry.status
            creationID = entry.creationID.map(HeldText.init)
            chanjingTraceID = entry.chanjingTraceID.map(HeldText.init)
            attempts = entry.attempts
            retries = entry.retries
            reconciled = entry.reconciled
            completion = entry.completion
            requestOffset = entry.requestOffset
            error = entry.error.map(ErrorBox.init)
        }
    }

    /// An outcome's error, boxed: most outcomes have none, and an error is larger than the rest.
    final class ErrorBox: Sendable {
        let detail: LedgerEntry.ErrorDetail

        init(_ detail: LedgerEntry.ErrorDetail) {
            self.detail = detail
        }
    }

    /// The offset of the Kafka record holding the entry.
    let offset: Int64
    let at: Int64
    let intentAt: Int64?
    /// Nil when the record's hash is not one ``LedgerEntry/hashText(_:)`` writes: it then matches
    /// no request, as the string did.
    let bodyHash: UInt64?
    /// Nil for an intent.
    let outcome: Outcome?

    /// Holds an intent or an outcome (adoptions are held as claims only).
    init(_ entry: LedgerEntry, offset: Int64) {
        precondition(entry.kind != .adoption, "adoptions are not held as a request's latest entry")
        self.offset = offset
        at = entry.at
        intentAt = entry.intentAt
        bodyHash = LedgerEntry.hashNumber(entry.bodyHash)
        outcome = entry.kind == .outcome ? Outcome(entry) : nil
    }

    var kind: LedgerEntry.Kind { outcome == nil ? .intent : .outcome }

    /// The entry as it was written.
    func entry(requestID: String) -> LedgerEntry {
        LedgerEntry(
            kind: kind, requestID: requestID, bodyHash: bodyHash.map(LedgerEntry.hashText) ?? "", at: at,
            status: outcome?.status, creationID: outcome?.creationID?.text, error: outcome?.error?.detail, attempts: outcome?.attempts,
            retries: outcome?.retries, chanjingTraceID: outcome?.chanjingTraceID?.text, reconciled: outcome?.reconciled, intentAt: intentAt,
            requestOffset: outcome?.requestOffset, completion: outcome?.completion
        )
    }
}

/// A request ID as the ledger holds it: 128 bits of two hashes of the ID, so that millions of
/// held requests keep no string of their own. Swift's `Hasher` is seeded per process, and the
/// keys are never stored or compared outside it. Two IDs share a key with a chance of about
/// n² / 2¹²⁹: for a billion requests held, less than one in 10²⁰.
struct RequestKey: Hashable, Sendable {
    private let first: Int
    private let second: Int

    init(_ requestID: String) {
        var first = Hasher()
        first.combine(0 as UInt8)
        first.combine(requestID)
        var second = Hasher()
        second.combine(1 as UInt8)
        second.combine(requestID)
        self.first = first.finalize()
        self.second = second.finalize()
    }

    func hash(into hasher: inout Hasher) {
        hasher.combine(first)
    }
}

/// Text the ledger holds for most outcomes: Chanjing's `unique_id` (a UUID) and `trace_id` (32
/// hex digits). In lowercase, either takes 16 bytes and no allocation; any other text is held as
/// it is. ``text`` gives back exactly what was held.
enum HeldText: Hashable, Sendable {
    /// A UUID in its 8-4-4-4-12 form, lowercase.
    case uuid(UInt64, UInt64)
    /// 32 lowercase hex digits.
    case hex(UInt64, UInt64)
    case text(String)

    init(_ text: String) {
        let utf8 = text.utf8
        let isUUID = utf8.count == 36
        var (high, low, digits) = (UInt64(0), UInt64(0), 0)
        if isUUID || utf8.count == 32 {
            for (index, byte) in utf8.enumerated() {
                if isUUID, index == 8 || index == 13 || index == 18 || index == 23 {
                    guard byte == UInt8(ascii: "-") else { break }
                    continue
                }
                guard let value = Self.hexValue(byte) else { break }
                if digits < 16 { high = high << 4 | UInt64(value) } else { low = low << 4 | UInt64(value) }
                digits += 1
            }
        }
        guard digits == 32 else {
            self = .text(text)
            return
        }
        self = isUUID ? .uuid(high, low) : .hex(high, low)
    }

    var text: String {
        switch self {
        case .text(let text):
            return text
        case .hex(let high, let low):
            return Self.digits(high) + Self.digits(low)
        case .uuid(let high, let low):
            let hex = Array((Self.digits(high) + Self.digits(low)).utf8)
            return [hex[0..<8], hex[8..<12], hex[12..<16], hex[16..<20], hex[20..<32]].map { String(decoding: $0, as: UTF8.self) }.joined(separator: "-")
        }
    }

    /// A lowercase hex digit's value; nil for anything else (uppercase too: ``text`` writes lowercase).
    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        default: nil
        }
    }

    /// 16 lowercase hex digits, with leading zeros.
    private static func digits(_ value: UInt64) -> String {
        let text = String(value, radix: 16)
        return String(repeating: "0", count: 16 - text.count) + text
    }
}
