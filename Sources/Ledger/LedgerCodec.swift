import Foundation
import Kafka
import VideoContract

/// The ledger's one codec: a Kafka record value is `{"entries":[{...},...]}`, each entry an
/// object with its keys sorted and absent fields left out.
///
/// Two entries are written per request, and a new owner reads every entry its partitions still
/// hold before their requests go on (millions per assignment), so both ways avoid Foundation's
/// coders (docs/benchmarks.md).
extension LedgerEntry {
    /// This entry's JSON, one element of a record's `entries`.
    public func encoded() -> [UInt8] {
        var json = JSONObjectWriter()
        json.field("at", at)
        json.field("attempts", attempts)
        json.field("body_hash", bodyHash)
        json.field("chanjing_trace_id", chanjingTraceID)
        json.field("completion", completion?.rawValue)
        json.field("creation_id", creationID)
        if let error {
            json.object("error") { json in
                json.field("chanjing_code", error.chanjingCode)
                json.field("code", error.code)
                json.field("field", error.field)
                json.field("message", error.message)
            }
        }
        if let follow {
            // Keys and header values are bytes: base64, as JSON holds only text.
            json.object("follow") { json in
                json.objects("headers", follow.headers) { header, json in
                    json.field("name", header.name)
                    json.field("value", header.value.map { Data($0).base64EncodedString() })
                }
                json.field("key", follow.key.map { Data($0).base64EncodedString() })
                json.field("offset", follow.offset)
            }
        }
        json.field("intent_at", intentAt)
        json.field("kind", kind.rawValue)
        json.field("reconciled", reconciled)
        json.field("request_id", requestID)
        json.field("request_offset", requestOffset)
        if let retries {
            json.object("retries") { json in
                json.field("ambiguous", retries.ambiguous)
                json.field("safe", retries.safe)
            }
        }
        json.field("status", status?.rawValue)
        return json.finished()
    }

    /// The Kafka record value holding entries already ``encoded()``: the writer assembles
    /// records on the producer's poll thread, so nothing is encoded there.
    public static func record(_ encodedEntries: [[UInt8]]) -> [UInt8] {
        var value = Array(#"{"entries":["#.utf8)
        value.reserveCapacity(value.count + encodedEntries.reduce(3) { $0 + $1.count + 1 })
        for (index, entry) in encodedEntries.enumerated() {
            if index > 0 { value.append(UInt8(ascii: ",")) }
            value.append(contentsOf: entry)
        }
        value.append(contentsOf: "]}".utf8)
        return value
    }

    /// The entries of one Kafka record value, in the order they were written; nil when it is
    /// not a ledger record. Keys may come in any order; unknown keys (a later version's fields)
    /// are skipped; optional fields may be absent or `null`. A key given twice, a number with a
    /// fraction where an integer belongs, or an unknown kind, status or completion make the record
    /// unreadable.
    public static func decode(_ record: [UInt8]) -> [LedgerEntry]? {
        guard JSONScanner.isUTF8(record) else { return nil }
        var scanner = JSONScanner(record)
        var entries: [LedgerEntry]?
        do {
            var keys = Keys()
            try scanner.object { scanner, key throws(JSONScanner.Failure) in
                try keys.add(key, at: scanner)
                guard key == "entries" else { return try scanner.skipValue() }
                var read: [LedgerEntry] = []
                try scanner.array { scanner throws(JSONScanner.Failure) in read.append(try scanner.entry()) }
                entries = read
            }
            guard scanner.isAtEnd() else { return nil }
        } catch {
            return nil
        }
        return entries
    }
}

/// The keys of one object read so far: a key given twice makes it unreadable (which value would
/// win is not for the reader to guess). A plain array: entries have a dozen keys.
private struct Keys {
    private var seen: [String]

    init() {
        seen = []
        seen.reserveCapacity(16)
    }

    mutating func add(_ key: String, at scanner: JSONScanner) throws(JSONScanner.Failure) {
        guard !seen.contains(key) else { throw scanner.fail("duplicate member") }
        seen.append(key)
    }
}

extension JSONScanner {
    /// Skips a value of a field this version does not know.
    fileprivate mutating func skipValue() throws(Failure) {
        _ = try value(maxDepth: 64)
    }

    /// Reads `null` (nil) or a value through `read`.
    fileprivate mutating func optional<T>(_ read: (inout JSONScanner) throws(Failure) -> T) throws(Failure) -> T? {
        if null() { return nil }
        return try read(&self)
    }

    fileprivate mutating func int() throws(Failure) -> Int {
        let start = index
        guard let value = Int(exactly: try integer()) else { throw .syntax("integer out of range at byte \(start)") }
        return value
    }

    fileprivate mutating func entry() throws(Failure) -> LedgerEntry {
        var (kind, requestID, bodyHash, at): (LedgerEntry.Kind?, String?, String?, Int64?) = (nil, nil, nil, nil)
        var entry = LedgerEntry(kind: .intent, requestID: "", bodyHash: "", at: 0)
        var keys = Keys()
        try object { scanner, key throws(Failure) in
            try keys.add(key, at: scanner)
            switch key {
            case "kind":
                let text = try scanner.string()
                guard let known = LedgerEntry.Kind(rawValue: text) else { throw scanner.fail("unknown kind") }
                kind = known
            case "request_id": requestID = try scanner.string()
            case "body_hash": bodyHash = try scanner.string()
            case "at": at = try scanner.integer()
            case "status":
                entry.status = try scanner.optional { scanner throws(Failure) in
                    guard let status = LedgerEntry.Status(rawValue: try scanner.string()) else { throw scanner.fail("unknown status") }
                    return status
                }
            case "creation_id": entry.creationID = try scanner.optional { scanner throws(Failure) in try scanner.string() }
            case "error": entry.error = try scanner.optional { scanner throws(Failure) in try scanner.errorDetail() }
            case "attempts": entry.attempts = try scanner.optional { scanner throws(Failure) in try scanner.int() }
            case "retries": entry.retries = try scanner.optional { scanner throws(Failure) in try scanner.retries() }
            case "chanjing_trace_id": entry.chanjingTraceID = try scanner.optional { scanner throws(Failure) in try scanner.string() }
            case "reconciled": entry.reconciled = try scanner.optional { scanner throws(Failure) in try scanner.bool() }
            case "intent_at": entry.intentAt = try scanner.optional { scanner throws(Failure) in try scanner.integer() }
            case "request_offset": entry.requestOffset = try scanner.optional { scanner throws(Failure) in try scanner.integer() }
            case "follow": entry.follow = try scanner.optional { scanner throws(Failure) in try scanner.follow() }
            case "completion":
                entry.completion = try scanner.optional { scanner throws(Failure) in
                    guard let completion = LedgerEntry.Completion(rawValue: try scanner.string()) else { throw scanner.fail("unknown completion") }
                    return completion
                }
            default: try scanner.skipValue()
            }
        }
        guard let kind, let requestID, let bodyHash, let at else { throw fail("an entry without kind, request_id, body_hash or at") }
        (entry.kind, entry.requestID, entry.bodyHash, entry.at) = (kind, requestID, bodyHash, at)
        return entry
    }

    private mutating func errorDetail() throws(Failure) -> LedgerEntry.ErrorDetail {
        var (code, message): (String?, String?) = (nil, nil)
        var (field, chanjingCode): (String?, Int?) = (nil, nil)
        var keys = Keys()
        try object { scanner, key throws(Failure) in
            try keys.add(key, at: scanner)
            switch key {
            case "code": code = try scanner.string()
            case "message": message = try scanner.string()
            case "field": field = try scanner.optional { scanner throws(Failure) in try scanner.string() }
            case "chanjing_code": chanjingCode = try scanner.optional { scanner throws(Failure) in try scanner.int() }
            default: try scanner.skipValue()
            }
        }
        guard let code, let message else { throw fail("an error without code or message") }
        return LedgerEntry.ErrorDetail(code: code, message: message, field: field, chanjingCode: chanjingCode)
    }

    private mutating func follow() throws(Failure) -> LedgerEntry.Follow {
        var offset: Int64?
        var key: [UInt8]?
        var headers: [KafkaHeader] = []
        var keys = Keys()
        try object { scanner, member throws(Failure) in
            try keys.add(member, at: scanner)
            switch member {
            case "offset": offset = try scanner.integer()
            case "key": key = try scanner.optional { scanner throws(Failure) in try scanner.base64() }
            case "headers":
                try scanner.array { scanner throws(Failure) in headers.append(try scanner.header()) }
            default: try scanner.skipValue()
            }
        }
        guard let offset else { throw fail("a follow without offset") }
        return LedgerEntry.Follow(offset: offset, key: key, headers: headers)
    }

    private mutating func header() throws(Failure) -> KafkaHeader {
        var name: String?
        var value: [UInt8]?
        var keys = Keys()
        try object { scanner, member throws(Failure) in
            try keys.add(member, at: scanner)
            switch member {
            case "name": name = try scanner.string()
            case "value": value = try scanner.optional { scanner throws(Failure) in try scanner.base64() }
            default: try scanner.skipValue()
            }
        }
        guard let name else { throw fail("a header without name") }
        return KafkaHeader(name: name, value: value)
    }

    private mutating func base64() throws(Failure) -> [UInt8] {
        guard let data = Data(base64Encoded: try string()) else { throw fail("invalid base64") }
        return Array(data)
    }

    private mutating func retries() throws(Failure) -> LedgerEntry.Retries {
        var (safe, ambiguous): (Int?, Int?) = (nil, nil)
        var keys = Keys()
        try object { scanner, key throws(Failure) in
            try keys.add(key, at: scanner)
            switch key {
            case "safe": safe = try scanner.int()
            case "ambiguous": ambiguous = try scanner.int()
            default: try scanner.skipValue()
            }
        }
        guard let safe, let ambiguous else { throw fail("retries without safe or ambiguous") }
        return LedgerEntry.Retries(safe: safe, ambiguous: ambiguous)
    }
}
