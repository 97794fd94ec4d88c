import Chanjing
import Foundation
import Logging
import VideoContract

/// How a submission ended, ready to become a result.
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

/// Submits a validated request to Chanjing, retrying transient failures within the policy's
/// bounds. Safe retries (nothing can have been created) and ambiguous ones (a task may exist)
/// are counted apart. While the circuit is open (refused credentials, exhausted quota or
/// balance, a long run of failures) requests wait instead of failing.
struct Submitter: Sendable {
    let client: ChanjingClient
    let tokens: any AccessTokenSource
    let policy: RetryPolicy
    let limiter: RateLimiter
    let circuit: CircuitBreaker
    /// Requests older than this (by their Kafka timestamp) end `expired` instead of being sent.
    let maxRequestAge: Duration?
    let metrics: WorkerMetrics
    let logger: Logger

    /// The outcome, or nil when the request must stay unfinished to be redelivered: the task
    /// was cancelled (shutdown) or `stillWanted` turned false (its partition was revoked) before
    /// a call was sent.
    ///
    /// `beforeCall`, when given, runs right before each call is sent (after any wait for the
    /// circuit, the rate limiter or an access token); a call is sent only once it returns.
    ///
    /// `afterAmbiguousFailure`, when given, runs after a failure that may have created a task
    /// and before anything is sent again: it may adopt the task (the outcome is then
    /// `submitted`), give up, or let the retry go ahead.
    func submit(
        _ request: VideoRequest,
        timestamp: Date? = nil,
        stillWanted: @escaping @Sendable () -> Bool = { true },
        beforeCall: (@Sendable () async throws(WorkerFailure) -> Void)? = nil,
        afterAmbiguousFailure: (@Sendable (ChanjingError) async throws(WorkerFailure) -> DuplicateGuard.Reconciliation)? = nil
    ) async throws(WorkerFailure) -> SubmissionOutcome? {
        let body = request.submitBody
        var started = ContinuousClock.now
        var attempts = 0
        // Calls that never reached Chanjing with a valid token (refused, or none to be had) do not
        // spend the attempt budget: nothing was created, and a new token is on its way.
        var tokenless = 0
        var retries = VideoResult.Retries()
        while !Task.isCancelled {
            let waitedForCircuit = circuit.isOpen
            guard await circuit.permit(stillWanted: stillWanted) else { return nil }
            // Time spent waiting out an outage does not count against the retry budget.
            if waitedForCircuit { started = .now }
            if let expired = expiry(of: timestamp, attempts: attempts, retries: retries) { return expired }
            guard await limiter.acquire(stillWanted: stillWanted) else { return nil }
            // The token is taken before the intent is written: waiting for one (while the pool
            // agrees on a new token) must not come between the intent and the call it bounds.
            guard let token = await nextToken(stillWanted: stillWanted) else { return nil }
            attempts += 1
            let answer: Result<SubmitTaskResponse, ChanjingError>
            switch token {
            case .failure(let error):
                answer = .failure(error)
            case .success(let token):
                // A revoked request is its next owner's now; a call from here could race that owner's.
                guard stillWanted() else { return nil }
                try await beforeCall?()
                // Revoked while the intent was written: the next owner reconciles it.
                guard stillWanted() else { return nil }
                let callStarted = ContinuousClock.now
                answer = await call(body, token: token)
                metrics.chanjingCall(code: answer.outcomeLabel, duration: .now - callStarted)
            }
            let error: ChanjingError
            switch answer {
            case .success(let response):
                limiter.record(throttled: false)
                circuit.succeeded()
                return SubmissionOutcome(status: .submitted, creationID: response.creationID, attempts: attempts, retries: retries, traceID: response.traceID)
            case .failure(let caught):
                error = caught
            }
            if error.isTokenless { tokenless += 1 }
            var next = afterFailure(
                error, of: request, attempts: attempts, spent: attempts - tokenless, started: started, retries: &retries, reconciles: afterAmbiguousFailure != nil
            )
            if case .reconcile = next, let afterAmbiguousFailure {
                switch try await afterAmbiguousFailure(error) {
                case .adopted(let creationID):
                    retries.ambiguous += 1
                    next = .end(SubmissionOutcome(status: .submitted, creationID: creationID, attempts: attempts, retries: retries, reconciled: true))
                case .giveUp(let message):
                    next = .end(Self.ended(.failed, .outcomeUnknown, message, error: error, attempts: attempts, retries: retries))
                case .retry:
                    next = backoff(after: error, of: request, attempts: attempts, spent: attempts - tokenless, started: started, retries: &retries)
                }
            }
            switch next {
            case .end(let outcome):
                return outcome
            case .stop:
                return nil
            case .waitForCircuit:
                continue  // the circuit is waited for at the top of the loop
            case .reconcile:
                preconditionFailure("a search is asked for only with afterAmbiguousFailure, and replaced above")
            case .retry(let delay):
                guard await sleep(until: .now + delay, while: stillWanted) else { return nil }
            }
        }
        return nil
    }

    /// What the submit loop does after a failed call. Small (the outcome is boxed): the loop's
    /// async frame is held by every request waiting for Chanjing.
    private enum Next {
        /// The request ends with this outcome.
        indirect case end(SubmissionOutcome)
        /// Shutdown: the request stays unfinished.
        case stop
        /// Back to the top of the loop, which waits while the circuit is open.
        case waitForCircuit
        /// Search for a task the call may have created before anything is sent again.
        case reconcile
        /// Call again after this delay.
        case retry(after: Duration)
    }

    /// Classifies a failed call: final, or retried (after a search for a task it may have
    /// created when `reconciles`), or waiting for the circuit. Synchronous, so that its locals
    /// stay off the async frame.
    @inline(never)
    private func afterFailure(
        _ error: ChanjingError, of request: VideoRequest, attempts: Int, spent: Int, started: ContinuousClock.Instant, retries: inout VideoResult.Retries, reconciles: Bool
    ) -> Next {
        if let code = error.chanjingCode { limiter.record(throttled: code == 40001) }
        let disposition = error.disposition
        switch disposition {
        case .rejected:
            circuit.succeeded()
            return .end(Self.ended(.rejected, .chanjingRejected, "Chanjing rejected the parameters: \(error)", error: error, attempts: attempts, retries: retries))
        case .failed:
            circuit.succeeded()
            return .end(Self.ended(.failed, .chanjingError, "\(error)", error: error, attempts: attempts, retries: retries))
        case .credentialsRefused, .quotaExhausted:
            // Nothing was created and no request can get through until an operator acts:
            // wait for the circuit rather than fail the backlog.
            circuit.tripped(disposition == .quotaExhausted ? "quota or balance exhausted: \(error)" : "\(error)")
            count(retry: disposition, in: &retries)
            return Task.isCancelled ? .stop : .waitForCircuit
        case .refreshToken, .retrySafe, .retryAmbiguous:
            // A refused token is replaced, and 40001 slows the pool down (the rate limiter): neither
            // says Chanjing is failing, so neither may stop submissions.
            if disposition != .refreshToken, error.chanjingCode != 40001 { circuit.failedTransiently("\(error)") }
            if Task.isCancelled { return .stop }
            if disposition == .retryAmbiguous, reconciles { return .reconcile }
            return backoff(after: error, of: request, attempts: attempts, spent: spent, started: started, retries: &retries)
        }
    }

    /// After a retryable failure: the delay before the next call, or the end of the retry budget.
    /// `spent` is the attempts that count against `maxAttempts` (``ChanjingError/isTokenless`` ones do not).
    @inline(never)
    private func backoff(
        after error: ChanjingError, of request: VideoRequest, attempts: Int, spent: Int, started: ContinuousClock.Instant, retries: inout VideoResult.Retries
    ) -> Next {
        let disposition = error.disposition
        // A refused token is replaced at once; other failures back off.
        let delay = disposition == .refreshToken ? Duration.zero : policy.backoff(afterAttempt: attempts)
        let elapsed = ContinuousClock.now - started
        if circuit.isOpen {
            count(retry: disposition, in: &retries)
            return .waitForCircuit
        }
        guard spent < policy.maxAttempts, elapsed + delay < policy.maxElapsed else {
            let message = "gave up after \(attempts) attempts in \(elapsed.formatted(.units(allowed: [.seconds], fractionalPart: .show(length: 1)))); last error: \(error)"
            return .end(Self.ended(.failed, .retriesExhausted, message, error: error, attempts: attempts, retries: retries))
        }
        count(retry: disposition, in: &retries)
        logger.info(
            "Retrying a Chanjing submit",
            metadata: [
                "request_id": "\(request.requestID)", "attempt": "\(attempts)", "kind": "\(disposition == .retryAmbiguous ? "ambiguous" : "safe")",
                "delay_ms": "\(delay / .milliseconds(1))", "error": "\(error)",
            ]
        )
        return .retry(after: delay)
    }

    /// An outcome that ends the request after a failed call.
    private static func ended(
        _ status: VideoResult.Status, _ code: ResultErrorCode, _ message: String, error: ChanjingError, attempts: Int, retries: VideoResult.Retries
    ) -> SubmissionOutcome {
        SubmissionOutcome(
            status: status,
            error: .init(code: code, message: message, chanjingCode: error.chanjingCode),
            attempts: attempts,
            retries: retries,
            traceID: error.traceID
        )
    }

    private func count(retry disposition: ChanjingError.Disposition, in retries: inout VideoResult.Retries) {
        let ambiguous = disposition == .retryAmbiguous
        if ambiguous { retries.ambiguous += 1 } else { retries.safe += 1 }
        metrics.retried(ambiguous: ambiguous)
    }

    /// The token for the next call, or nil when the request's partition was revoked (or the task
    /// cancelled) while a new token was awaited: a revocation waits for the requests in flight,
    /// so this wait must not outlast the partition.
    private func nextToken(stillWanted: @escaping @Sendable () -> Bool) async -> Result<String, ChanjingError>? {
        if await tokens.hasUsableToken { return await Self.token(from: tokens) }
        return await withTaskGroup(of: Result<String, ChanjingError>?.self) { [tokens] group in
            group.addTask { await Self.token(from: tokens) }
            group.addTask {
                while stillWanted(), (try? await Task.sleep(for: .milliseconds(100))) != nil {}
                return nil
            }
            let first = await group.next() ?? nil
            group.cancelAll()
            return first
        }
    }

    private static func token(from tokens: any AccessTokenSource) async -> Result<String, ChanjingError> {
        do throws(ChanjingError) {
            return .success(try await tokens.currentToken())
        } catch {
            return .failure(error)
        }
    }

    /// A call once started is never cancelled halfway (that would leave its outcome unknown): it
    /// runs in its own task, bounded by the request timeout, and its outcome is reported even
    /// when shutdown began meanwhile, so a created task gets its result.
    private func call(_ body: SubmitTaskRequest, token: String) async -> Result<SubmitTaskResponse, ChanjingError> {
        await Task { [client, tokens] () async -> Result<SubmitTaskResponse, ChanjingError> in
            do throws(ChanjingError) {
                return .success(try await client.submit(body, token: token, reportingTo: tokens))
            } catch {
                return .failure(error)
            }
        }.value
    }

    /// The `expired` outcome when the request is older than the configured maximum age.
    private func expiry(of timestamp: Date?, attempts: Int, retries: VideoResult.Retries) -> SubmissionOutcome? {
        guard let maxRequestAge, let timestamp else { return nil }
        let age = Date().timeIntervalSince(timestamp)
        guard age > maxRequestAge / .seconds(1) else { return nil }
        return SubmissionOutcome(
            status: .failed,
            error: .init(code: .expired, message: "the request is \(Int(age)) s old, over the \(maxRequestAge) limit (--max-request-age); it was not submitted"),
            attempts: attempts,
            retries: retries
        )
    }
}

extension Result<SubmitTaskResponse, ChanjingError> {
    /// The call's outcome as a metrics label: `0` for success, else the error's label.
    var outcomeLabel: String {
        switch self {
        case .success: "0"
        case .failure(let error): error.outcomeLabel
        }
    }
}
