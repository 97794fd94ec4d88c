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
