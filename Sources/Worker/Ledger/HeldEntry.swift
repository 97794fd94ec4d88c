import VideoContract

/// What the ledger keeps in memory of a request's latest intent or outcome, for as long as
/// retention keeps its record: millions of requests at production rates. So it is smaller than
/// the ``LedgerEntry`` it comes from (about 1.1 KiB a request held that way): the request ID is
/// the dictionary's key and not stored again, the body hash is a number rather than a string,
/// and an outcome's fields sit in one allocation of their own that an intent does without.
struct HeldEntry: Sendable {
    /// An outcome's fields.
    final class Outcome: Sendable {
        let status: VideoResult.Status?
        let creationID: String?
        let error: VideoResult.ErrorDetail?
        let attempts: Int?
        let retries: VideoResult.Retries?
        let chanjingTraceID: String?
        let reconciled: Bool?

        init(_ entry: LedgerEntry) {
            status = entry.status
            creationID = entry.creationID
            error = entry.error
            attempts = entry.attempts
            retries = entry.retries
            chanjingTraceID = entry.chanjingTraceID
            reconciled = entry.reconciled
        }
    }

    /// The offset of the Kafka record holding the entry.
    let offset: Int64
    let at: Int64
    let intentAt: Int64?
    /// Nil when the record's hash is not one ``LedgerEntry/hash(of:)`` writes: it then matches
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
            status: outcome?.status, creationID: outcome?.creationID, error: outcome?.error, attempts: outcome?.attempts,
            retries: outcome?.retries, chanjingTraceID: outcome?.chanjingTraceID, reconciled: outcome?.reconciled, intentAt: intentAt
        )
    }
}
