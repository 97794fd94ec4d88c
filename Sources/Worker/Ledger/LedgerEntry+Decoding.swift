import Foundation
import VideoContract

extension LedgerEntry {
    /// One Kafka record of the ledger, for `JSONDecoder`.
    private struct Batch: Decodable {
        var entries: [LedgerEntry]
    }

    /// The entries of one Kafka record value, in the order they were written; nil when it is
    /// not a ledger record.
    ///
    /// A new owner reads every entry its partitions still hold, and their requests wait until
    /// it has: this can run millions of times per assignment. Records are read by
    /// ``LedgerRecordReader``: about 0.9 µs an entry against `JSONDecoder`'s 5.5 µs (release
    /// build, records of 11 entries). What it does not read exactly (a number with a fraction,
    /// a field of the wrong type) goes to `JSONDecoder`, which decides.
    static func decode(_ bytes: [UInt8]) -> [LedgerEntry]? {
        LedgerRecordReader.entries(bytes) ?? (try? JSONDecoder().decode(Batch.self, from: Data(bytes)).entries)
    }
}

/// Reads a ledger record value, `{"entries":[{...},...]}`, as ``LedgerEntry/encoded()`` and
/// `JSONEncoder` write it: keys in any order, unknown keys skipped (a later version's fields),
/// optional fields absent or `null`. Returns nil for anything else, including what `JSONDecoder`
/// might still accept (a key given twice, a number with a fraction); never a different reading
/// of the same bytes.
struct LedgerRecordReader {
    private let bytes: [UInt8]
    private var index = 0

    private init(_ bytes: [UInt8]) {
        self.bytes = bytes
    }

    static func entries(_ bytes: [UInt8]) -> [LedgerEntry]? {
        // Validated once here, so that strings are made without validating each again (a generic
        // call per string took a fifth of the reader's time).
        guard bytes.allSatisfy({ $0 < 0x80 }) || String(validating: bytes, as: UTF8.self) != nil else { return nil }
        var reader = LedgerRecordReader(bytes)
        var entries: [LedgerEntry]?
        guard reader.object({ reader, key in
            guard key == "entries" else { return reader.skipValue() }
            entries = reader.array { reader in reader.entry() }
            return entries != nil
        }) else { return nil }
        reader.skipWhitespace()
        return reader.index == bytes.count ? entries : nil
    }

    // MARK: The ledger's objects

    private mutating func entry() -> LedgerEntry? {
        var (kind, requestID, bodyHash, at): (LedgerEntry.Kind?, String?, String?, Int64?) = (nil, nil, nil, nil)
        var entry = LedgerEntry(kind: .intent, requestID: "", bodyHash: "", at: 0)
        let read = object { reader, key in
            switch key {
            case "kind": kind = reader.string().flatMap(LedgerEntry.Kind.init(rawValue:))
            case "request_id": requestID = reader.string()
            case "body_hash": bodyHash = reader.string()
            case "at": at = reader.integer()
            case "status": return reader.optional(&entry.status) { $0.string().flatMap(VideoResult.Status.init(rawValue:)) }
            case "creation_id": return reader.optional(&entry.creationID) { $0.string() }
            case "error": return reader.optional(&entry.error) { $0.errorDetail() }
            case "attempts": return reader.optional(&entry.attempts) { $0.integer().flatMap(Int.init(exactly:)) }
            case "retries": return reader.optional(&entry.retries) { $0.retries() }
            case "chanjing_trace_id": return reader.optional(&entry.chanjingTraceID) { $0.string() }
            case "reconciled": return reader.optional(&entry.reconciled) { $0.bool() }
            case "intent_at": return reader.optional(&entry.intentAt) { $0.integer() }
            default: return reader.skipValue()
            }
            return true
        }
        guard read, let kind, let requestID, let bodyHash, let at else { return nil }
        (entry.kind, entry.requestID, entry.bodyHash, entry.at) = (kind, requestID, bodyHash, at)
        return entry
    }

    private mutating func errorDetail() -> VideoResult.ErrorDetail? {
        var (code, message): (ResultErrorCode?, String?) = (nil, nil)
        var (field, chanjingCode): (String?, Int?) = (nil, nil)
        let read = object { reader, key in
            switch key {
            case "code": code = reader.string().flatMap(ResultErrorCode.init(rawValue:))
            case "message": message = reader.string()
            case "field": return reader.optional(&field) { $0.string() }
            case "chanjing_code": return reader.optional(&chanjingCode) { $0.integer().flatMap(Int.init(exactly:)) }
            default: return reader.skipValue()
            }
            return true
        }
        guard read, let code, let message else { return nil }
        return VideoResult.ErrorDetail(code: code, message: message, field: field, chanjingCode: chanjingCode)
    }

    private mutating func retries() -> VideoResult.Retries? {
        var (safe, ambiguous): (Int?, Int?) = (nil, nil)
        let read = object { reader, key in
            switch key {
            case "safe": safe = reader.integer().flatMap(Int.init(exactly:))
            case "ambiguous": ambiguous = reader.integer().flatMap(Int.init(exactly:))
            default: return reader.skipValue()
            }
            return true
        }
        guard read, let safe, let ambiguous else { return nil }
        return VideoResult.Retries(safe: safe, ambiguous: ambiguous)
    }

    // MARK: JSON

    /// Reads `null` (nil) or a value through `read` into `value`; false when neither is there.
    private mutating func optional<T>(_ value: inout T?, _ read: (inout LedgerRecordReader) -> T?) -> Bool {
        if literal(Self.null) {
            value = nil
            return true
        }
        value = read(&self)
        return value != nil
    }

    /// Reads an object, calling `member` for each key with the reader at its value; false when
    /// the object or a member cannot be read, or a key comes twice (which one `JSONDecoder`
    /// takes is its own business).
    private mutating func object(_ member: (inout LedgerRecordReader, String) -> Bool) -> Bool {
        guard consume(UInt8(ascii: "{")) else { return false }
        if consume(UInt8(ascii: "}")) { return true }
        var keys: [String] = []
        keys.reserveCapacity(16)
        repeat {
            skipWhitespace()
            guard let key = string(), !keys.contains(key), consume(UInt8(ascii: ":")), member(&self, key) else { return false }
            keys.append(key)
        } while consume(UInt8(ascii: ","))
        return consume(UInt8(ascii: "}"))
    }

    private mutating func array<T>(_ element: (inout LedgerRecordReader) -> T?) -> [T]? {
        guard consume(UInt8(ascii: "[")) else { return nil }
        var elements: [T] = []
        if consume(UInt8(ascii: "]")) { return elements }
        repeat {
            guard let value = element(&self) else { return nil }
            elements.append(value)
        } while consume(UInt8(ascii: ","))
        return consume(UInt8(ascii: "]")) ? elements : nil
    }

    /// Skips any one value (a later version's field); false when it is not valid JSON.
    private mutating func skipValue() -> Bool {
        skipWhitespace()
        guard index < bytes.count else { return false }
        switch bytes[index] {
        case UInt8(ascii: "{"): return object { reader, _ in reader.skipValue() }
        case UInt8(ascii: "["): return array { reader in reader.skipValue() ? true : nil } != nil
        case UInt8(ascii: "\""): return string() != nil
        case UInt8(ascii: "t"), UInt8(ascii: "f"): return bool() != nil
        case UInt8(ascii: "n"): return literal(Self.null)
        default: return number()
        }
    }

    private mutating func bool() -> Bool? {
        if literal(Self.true) { return true }
        if literal(Self.false) { return false }
        return nil
    }

    /// An integer without fraction or exponent that fits in 64 bits.
    private mutating func integer() -> Int64? {
        skipWhitespace()
        let start = index
        if index < bytes.count, bytes[index] == UInt8(ascii: "-") { index += 1 }
        let digits = index
        var value: Int64 = 0
        while index < bytes.count, case let digit = bytes[index] &- UInt8(ascii: "0"), digit < 10 {
            // Accumulated negatively, so that Int64.min fits; overflow fails.
            let (shifted, overflowMultiplying) = value.multipliedReportingOverflow(by: 10)
            let (next, overflowSubtracting) = shifted.subtractingReportingOverflow(Int64(digit))
            guard !overflowMultiplying, !overflowSubtracting else { return nil }
            value = next
            index += 1
        }
        // JSON allows no leading zero; a fraction or exponent goes to JSONDecoder.
        guard index > digits, bytes[digits] != UInt8(ascii: "0") || index == digits + 1 else { return nil }
        if index < bytes.count, bytes[index] == UInt8(ascii: ".") || bytes[index] | 0x20 == UInt8(ascii: "e") { return nil }
        if digits > start { return value }
        let (positive, overflow) = Int64(0).subtractingReportingOverflow(value)
        return overflow ? nil : positive
    }

    /// Skips a number of any form JSON allows (a later version's field): `-`, an integer part
    /// without leading zeros, then an optional fraction and exponent.
    private mutating func number() -> Bool {
        if index < bytes.count, bytes[index] == UInt8(ascii: "-") { index += 1 }
        let integerPart = digits()
        guard integerPart == 1 || (integerPart > 1 && bytes[index - integerPart] != UInt8(ascii: "0")) else { return false }
        if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
            index += 1
            guard digits() > 0 else { return false }
        }
        if index < bytes.count, bytes[index] | 0x20 == UInt8(ascii: "e") {
            index += 1
            if index < bytes.count, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") { index += 1 }
            guard digits() > 0 else { return false }
        }
        return true
    }

    /// Skips decimal digits; returns how many.
    private mutating func digits() -> Int {
        let start = index
        while index < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[index]) { index += 1 }
        return index - start
    }

    /// A string, its escapes resolved; nil when it is not a valid JSON string. (The record's
    /// UTF-8 is validated before reading.)
    private mutating func string() -> String? {
        skipWhitespace()
        guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else { return nil }
        index += 1
        let start = index
        // The common case: no escape, one copy.
        while index < bytes.count, bytes[index] != UInt8(ascii: "\""), bytes[index] != UInt8(ascii: "\\"), bytes[index] >= 0x20 { index += 1 }
        guard index < bytes.count else { return nil }
        if bytes[index] == UInt8(ascii: "\"") {
            index += 1
            return String(decoding: bytes[start..<index - 1], as: UTF8.self)
        }
        var unescaped = Array(bytes[start..<index])
        while index < bytes.count {
            let byte = bytes[index]
            index += 1
            switch byte {
            case UInt8(ascii: "\""):
                return String(decoding: unescaped, as: UTF8.self)
            case UInt8(ascii: "\\"):
                guard index < bytes.count else { return nil }
                let escape = bytes[index]
                index += 1
                switch escape {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): unescaped.append(escape)
                case UInt8(ascii: "b"): unescaped.append(0x08)
                case UInt8(ascii: "f"): unescaped.append(0x0C)
                case UInt8(ascii: "n"): unescaped.append(0x0A)
                case UInt8(ascii: "r"): unescaped.append(0x0D)
                case UInt8(ascii: "t"): unescaped.append(0x09)
                case UInt8(ascii: "u"):
                    guard let scalar = unicodeEscape() else { return nil }
                    unescaped.append(contentsOf: Array(String(Character(scalar)).utf8))
                default: return nil
                }
            case ..<0x20:
                return nil  // a raw control character
            default:
                unescaped.append(byte)
            }
        }
        return nil
    }

    /// The scalar of `\uXXXX` (the `\u` already read), joining a surrogate pair; nil for a lone
    /// surrogate.
    private mutating func unicodeEscape() -> Unicode.Scalar? {
        guard let first = hex4() else { return nil }
        switch first {
        case 0xD800..<0xDC00:
            guard literal(Self.unicodeEscapeStart, skippingWhitespace: false), let second = hex4(), (0xDC00..<0xE000).contains(second) else { return nil }
            return Unicode.Scalar(0x10000 + ((first - 0xD800) << 10) + (second - 0xDC00))
        case 0xDC00..<0xE000:
            return nil
        default:
            return Unicode.Scalar(first)
        }
    }

    private mutating func hex4() -> UInt32? {
        guard index + 4 <= bytes.count, let value = UInt32(String(decoding: bytes[index..<index + 4], as: UTF8.self), radix: 16) else { return nil }
        guard bytes[index..<index + 4].allSatisfy({ $0 != UInt8(ascii: "+") && $0 != UInt8(ascii: "-") }) else { return nil }
        index += 4
        return value
    }

    private static let null = Array("null".utf8)
    private static let `true` = Array("true".utf8)
    private static let `false` = Array("false".utf8)
    private static let unicodeEscapeStart = Array("\\u".utf8)

    private mutating func literal(_ utf8: [UInt8], skippingWhitespace: Bool = true) -> Bool {
        if skippingWhitespace { skipWhitespace() }
        guard index + utf8.count <= bytes.count, bytes[index..<index + utf8.count].elementsEqual(utf8) else { return false }
        index += utf8.count
        return true
    }

    private mutating func consume(_ byte: UInt8) -> Bool {
        skipWhitespace()
        guard index < bytes.count, bytes[index] == byte else { return false }
        index += 1
        return true
    }

    private mutating func skipWhitespace() {
        while index < bytes.count {
            switch bytes[index] {
            case 0x20, 0x09, 0x0A, 0x0D: index += 1
            default: return
            }
        }
    }
}
