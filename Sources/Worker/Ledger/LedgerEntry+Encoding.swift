import VideoContract

extension LedgerEntry {
    /// This entry's JSON, one element of a record's `entries`, with its keys sorted.
    ///
    /// Written field by field rather than through `JSONEncoder`: two entries are encoded per
    /// request, and `JSONEncoder` took about 7% of the worker's CPU in benchmark scenario 1.
    /// `LedgerEntryEncodingTests` checks that `JSONDecoder` reads back every field.
    func encoded() -> [UInt8] {
        var json = JSONObjectWriter()
        json.field("at", at)
        json.field("attempts", attempts)
        json.field("body_hash", bodyHash)
        json.field("chanjing_trace_id", chanjingTraceID)
        json.field("creation_id", creationID)
        if let error { json.object("error", error.write) }
        json.field("intent_at", intentAt)
        json.field("kind", kind.rawValue)
        json.field("reconciled", reconciled)
        json.field("request_id", requestID)
        if let retries { json.object("retries", retries.write) }
        json.field("status", status?.rawValue)
        return json.finished()
    }
}
