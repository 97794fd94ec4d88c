import Chanjing
import Foundation
import Logging
import Synchronization
import VideoContract

/// Keeps a request from being submitted to Chanjing twice, using the submission ledger: a
/// request whose outcome is known is answered from the ledger; one whose earlier submit may have
/// created a task is reconciled with Chanjing's task list first; every submit is preceded by an
/// acknowledged intent and followed by an acknowledged outcome.
struct DuplicateGuard: Sendable {
    /// What to do with a request before submitting it. Small (the outcome is boxed), since it
    /// sits in the async frame of every request in flight.
    enum Decision: Sendable {
        /// Publish this outcome without calling Chanjing: the ledger's answer, or a rejection
        /// of a `request_id` already used with another body.
        indirect case answer(SubmissionOutcome)
        /// Submit it, recording an intent through `intents` right before each call.
        case submit(intents: IntentRecorder)
        /// Its partition is no longer assigned here: leave it for the next owner.
        case unfinished
    }

    /// How a search after an ambiguous failure ended.
    enum Reconciliation: Sendable {
        case adopted(String)
        case giveUp(String)
        case retry
    }

    let ledger: SubmissionLedger
    let reconciler: Reconciler
    let policy: ReconcilePolicy
    /// How long after an intent a task it may have created can still appear: at least the
    /// submit timeout, since a dead worker's request may still land.
    let reconcileDelay: Duration
    let metrics: WorkerMetrics
    let logger: Logger
    /// Serialises the copies of one request (same partition and `request_id`) in this worker.
    let inFlight = KeyedSequencer()

    /// `stillWanted` turns false when the request's partition is revoked: a search waiting
    /// then ends (the request is left to the next owner).
    func before(_ request: VideoRequest, partition: Int32, stillWanted: () -> Bool) async throws(WorkerFailure) -> Decision {
        let lookup = try await ledger.lookup(request.requestID, partition: partition)
        if case .notAssigned = lookup { return .unfinished }
        let hash = LedgerEntry.hash(of: request.submitBody)
        if case .found(let record) = lookup, let answer = try await answer(request, from: record, hash: hash, partition: partition, stillWanted: stillWanted) {
            return .answer(answer)
        }
        return .submit(intents: IntentRecorder(ledger: ledger, requestID: request.requestID, bodyHash: hash, partition: partition))
    }

    /// The outcome a request already in the ledger ends with, or nil when it is to be submitted.
    /// Kept out of ``before(_:partition:stillWanted:)``, which every request goes through, so that this rarer
    /// path's locals stay off the async frame of every request in flight.
    @inline(never)
    private func answer(
        _ request: VideoRequest, from record: LedgerEntry, hash: String, partition: Int32, stillWanted: () -> Bool
    ) async throws(WorkerFailure) -> SubmissionOutcome? {
        guard record.bodyHash == hash else {
            let detail = "request_id '\(request.requestID)' was already used for a request with different parameters"
            return SubmissionOutcome(status: .rejected, error: .init(code: .requestIDConflict, message: detail, field: "request_id"), attempts: 0, retries: .init())
        }
        let metadata: Logger.Metadata = ["request_id": "\(request.requestID)", "partition": "\(partition)"]
        switch (record.kind, record.status) {
        case (.outcome, .failed?):
            // A failure is not final: after an outage `replay` sends the request again. Only
            // a failure that may have created a task needs a search first.
            let mayHaveCreated = record.error?.code == .retriesExhausted || record.error?.code == .outcomeUnknown
            if mayHaveCreated {
                let searchPolicy: ReconcilePolicy = policy == .resubmit ? .resubmit : .adoptOrResubmit
                let found = try await reconcile(request, partition: partition, since: record.intentDate, waitUntil: Date(), policy: searchPolicy, stillWanted: stillWanted)
                if case .adopted(let creationID) = found {
                    return try await recordAdopted(creationID, request: request, partition: partition)
                }
            }
            return nil
        case (.outcome, let status?):
            metrics.duplicateAvoided(.replayed)
            logger.info("Answered from the ledger; not submitted again", metadata: metadata.merging(["creation_id": "\(record.creationID ?? "")"]) { $1 })
            return SubmissionOutcome(
                status: status, creationID: record.creationID, error: record.error, attempts: record.attempts ?? 0,
                retries: record.retries ?? .init(), traceID: record.chanjingTraceID, replayed: true, reconciled: record.reconciled ?? false
            )
        default:
            // An intent without an outcome: a worker stopped during the call.
            // The latest call was sent within `sendWithin` of the latest intent, and has landed
            // or failed once the reconcile delay has passed; the first intent bounds the search.
            logger.notice("A previous submit of this request has no outcome; reconciling", metadata: metadata)
            let landedBy = record.date.addingTimeInterval((IntentRecorder.sendWithin + reconcileDelay) / .seconds(1))
            switch try await reconcile(request, partition: partition, since: record.intentDate, waitUntil: landedBy, stillWanted: stillWanted) {
            case .adopted(let creationID):
                return try await recordAdopted(creationID, request: request, partition: partition)
            case .giveUp(let message):
                let outcome = SubmissionOutcome(status: .failed, error: .init(code: .outcomeUnknown, message: message), attempts: 0, retries: .init())
                try await recordOutcome(outcome, for: request, partition: partition, intentAt: record.intentDate)
                return outcome
            case .retry:
                return nil
            }
        }
    }

    /// After an ambiguous failure: looks for the task the failed call may have created before
    /// anything is submitted again. An answer (HTTP 5xx, 50000) means the call is over; a
    /// timeout after sending may still land, so the search waits the reconcile delay first.
    func afterAmbiguousFailure(
        _ error: ChanjingError, request: VideoRequest, partition: Int32, intentAt: Date, stillWanted: () -> Bool
    ) async throws(WorkerFailure) -> Reconciliation {
        var waitUntil = Date()
        if case .transport(_, requestSent: true) = error { waitUntil = Date().addingTimeInterval(reconcileDelay / .seconds(1)) }
        return try await reconcile(request, partition: partition, since: intentAt, waitUntil: waitUntil, stillWanted: stillWanted)
    }

    /// Records how a request ended without a submit of its own (given up or adopted).
    private func recordOutcome(_ outcome: SubmissionOutcome, for request: VideoRequest, partition: Int32, intentAt: Date? = nil) async throws(WorkerFailure) {
        let entry = Self.outcomeEntry(outcome, requestID: request.requestID, bodyHash: LedgerEntry.hash(of: request.submitBody), intentAt: intentAt)
        try await ledger.write(entry, partition: partition).acknowledged()
    }

    /// Starts recording how the request whose intents `intents` recorded ended, so that its
    /// result can be published meanwhile; the offset may be committed only once both are
    /// acknowledged.
    func startRecording(_ outcome: SubmissionOutcome, after intents: IntentRecorder, partition: Int32) -> PendingWrite {
        let entry = Self.outcomeEntry(outcome, requestID: intents.requestID, bodyHash: intents.bodyHash, intentAt: intents.firstIntentDate)
        return ledger.write(entry, partition: partition)
    }

    private static func outcomeEntry(_ outcome: SubmissionOutcome, requestID: String, bodyHash: String, intentAt: Date?) -> LedgerEntry {
        LedgerEntry(
            kind: .outcome, requestID: requestID, bodyHash: bodyHash, at: LedgerEntry.now(),
            status: outcome.status, creationID: outcome.creationID, error: outcome.error, attempts: outcome.attempts,
            retries: outcome.retries, chanjingTraceID: outcome.traceID, reconciled: outcome.reconciled ? true : nil,
            intentAt: intentAt.map(LedgerEntry.milliseconds)
        )
    }

    private func recordAdopted(_ creationID: String, request: VideoRequest, partition: Int32) async throws(WorkerFailure) -> SubmissionOutcome {
        let outcome = SubmissionOutcome(status: .submitted, creationID: creationID, attempts: 0, retries: .init(), reconciled: true)
        try await recordOutcome(outcome, for: request, partition: partition)
        return outcome
    }

    /// `.retry` also when `stillWanted` turned false before the search answered: the caller
    /// makes no call for a request that is no longer wanted.
    private func reconcile(
        _ request: VideoRequest, partition: Int32, since: Date, waitUntil: Date, policy: ReconcilePolicy? = nil, stillWanted: () -> Bool
    ) async throws(WorkerFailure) -> Reconciliation {
        let body = request.submitBody
        let policy = policy ?? self.policy
        guard policy != .resubmit else { return .retry }
        let metadata: Logger.Metadata = ["request_id": "\(request.requestID)", "partition": "\(partition)"]
        let wait = waitUntil.timeIntervalSinceNow
        guard await sleep(until: .now + .milliseconds(Int64(max(0, wait) * 1000)), while: stillWanted) else { return .retry }
        var found: CreationTask?
        var failures = 0
        while true {
            do {
                found = try await reconciler.find(body, since: since) { ledger.isClaimed($0, byOtherThan: request.requestID, partition: partition) }
                break
            } catch {
                // A search that cannot run (refused token, outage, 40001) is not "not found":
                // submitting again could pay for a second task. The request waits, uncommitted,
                // until the search answers or the worker lets go of it.
                failures += 1
                metrics.reconciled(.failed)
                if failures == 1 || failures.isMultiple(of: 10) {
                    logger.warning("Cannot search Chanjing's task list; the request waits until it can (\(failures) failed searches)", metadata: metadata.merging(["error": "\(error)"]) { $1 })
                }
                // Shutdown or revocation: the request stays unfinished (the caller sends nothing then).
                guard await sleep(until: .now + .seconds(min(30, 1 << min(failures - 1, 5))), while: stillWanted) else { return .retry }
            }
        }
        guard let task = found else {
            metrics.reconciled(.notFound)
            logger.notice("Reconciled: no task from an earlier submit", metadata: metadata)
            return policy == .adoptOrFail
                ? .giveUp("an earlier submit may have created a task and none was found in Chanjing's task list (--reconcile-policy adopt-or-fail)")
                : .retry
        }
        let adoption = LedgerEntry(kind: .adoption, requestID: request.requestID, bodyHash: LedgerEntry.hash(of: body), at: LedgerEntry.now(), creationID: task.uniqueID)
        try await ledger.write(adoption, partition: partition).acknowledged()
        metrics.reconciled(.adopted)
        metrics.duplicateAvoided(.adopted)
        logger.notice("Reconciled: adopted the task an earlier submit created", metadata: metadata.merging(["creation_id": "\(task.uniqueID)"]) { $1 })
        return .adopted(task.uniqueID)
    }
}

/// Records a request's intents: one right before each call to Chanjing, acknowledged before the
/// call is sent. The latest intent's time bounds when the latest call started (a waiting rate
/// limiter or circuit cannot make it older); the first's, when any call could have created a
/// task. No intent is left by a request that never called, so nothing needs reconciling then.
final class IntentRecorder: Sendable {
    private let ledger: SubmissionLedger
    let requestID: String
    let bodyHash: String
    private let partition: Int32
    /// When the first intent was written (Unix milliseconds).
    private let firstAt = Mutex<Int64?>(nil)

    init(ledger: SubmissionLedger, requestID: String, bodyHash: String, partition: Int32) {
        self.ledger = ledger
        self.requestID = requestID
        self.bodyHash = bodyHash
        self.partition = partition
    }

    /// When the first intent was written; nil while no call has been made.
    var firstIntentDate: Date? { firstAt.withLock { $0 }.map(LedgerEntry.date) }

    /// How soon after its time an intent's call is sent at the latest: an acknowledgement slower
    /// than this is followed by another intent. The latest intent's time, plus this, plus the
    /// submit timeout, bounds when its call can land.
    static let sendWithin: Duration = .seconds(2)

    /// Writes an intent and waits for Kafka's acknowledgement, within ``sendWithin`` of the
    /// intent's time. Call it right before each call.
    func record() async throws(WorkerFailure) {
        while true {
            let at = LedgerEntry.now()
            let started = ContinuousClock.now
            let intent = LedgerEntry(kind: .intent, requestID: requestID, bodyHash: bodyHash, at: at, intentAt: firstAt.withLock { $0 })
            try await ledger.write(intent, partition: partition).acknowledged()
            firstAt.withLock { if $0 == nil { $0 = at } }
            if ContinuousClock.now - started <= Self.sendWithin { return }
        }
    }
}
