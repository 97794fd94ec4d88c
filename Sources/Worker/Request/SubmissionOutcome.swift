import Foundation
import Ledger
import VideoContract

/// How a valid request ended, ready to become a result and a ledger outcome.
struct SubmissionOutcome: Sendable, Equatable {
    var status: VideoResult.Status
    var creationID: String?
    var error: VideoResult.ErrorDetail?
    var attempts: Int
    var retries: VideoResult.Retries
    var traceID: String?
    /// Answered from the submission ledger, without calling Chanjing.
    var replayed = false
    /// The task was found by reconciling with Chanjing's task list.
    var reconciled = false
}

// The outcome as the ledger records it, and back: the one place the results contract meets the
// ledger's own types.
extension SubmissionOutcome {
    /// The ledger's outcome entry for this outcome of `requestID`, answering the record at
    /// `requestOffset`.
    func ledgerEntry(requestID: String, bodyHash: String, requestOffset: Int64, intentAt: Date?) -> LedgerEntry {
        LedgerEntry(
            kind: .outcome, requestID: requestID, bodyHash: bodyHash, at: LedgerEntry.now(),
            status: LedgerEntry.Status(status), creationID: creationID,
            error: error.map { .init(code: $0.code.rawValue, message: $0.message, field: $0.field, chanjingCode: $0.chanjingCode) },
            attempts: attempts, retries: .init(safe: retries.safe, ambiguous: retries.ambiguous), chanjingTraceID: traceID,
            reconciled: reconciled ? true : nil, intentAt: intentAt.map(LedgerEntry.milliseconds), requestOffset: requestOffset
        )
    }

    /// The outcome the ledger recorded, answered again; nil for any other entry, and for an
    /// outcome whose error code this version does not know (a later version added it).
    init?(replaying entry: LedgerEntry) {
        guard entry.kind == .outcome, let status = entry.status else { return nil }
        var error: VideoResult.ErrorDetail?
        if let recorded = entry.error {
            guard let code = ResultErrorCode(rawValue: recorded.code) else { return nil }
            error = .init(code: code, message: recorded.message, field: recorded.field, chanjingCode: recorded.chanjingCode)
        }
        self.init(
            status: VideoResult.Status(status), creationID: entry.creationID, error: error, attempts: entry.attempts ?? 0,
            retries: .init(safe: entry.retries?.safe ?? 0, ambiguous: entry.retries?.ambiguous ?? 0), traceID: entry.chanjingTraceID,
            replayed: true, reconciled: entry.reconciled ?? false
        )
    }
}

extension LedgerEntry.Status {
    init(_ status: VideoResult.Status) {
        switch status {
        case .submitted: self = .submitted
        case .rejected: self = .rejected
        case .failed: self = .failed
        }
    }
}

extension VideoResult.Status {
    init(_ status: LedgerEntry.Status) {
        switch status {
        case .submitted: self = .submitted
        case .rejected: self = .rejected
        case .failed: self = .failed
        }
    }
}
