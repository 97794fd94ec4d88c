import Chanjing
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
}

/// Submits a validated request to Chanjing, retrying transient failures within the policy's
/// bounds. Safe retries (nothing can have been created) and ambiguous ones (a task may exist)
/// are counted apart.
struct Submitter: Sendable {
    let client: ChanjingClient
    let tokens: any AccessTokenSource
    let policy: RetryPolicy
    let limiter: RateLimiter
    let logger: Logger

    /// The outcome, or nil when the task was cancelled (shutdown): the request is then left
    /// unfinished so that it is redelivered, never reported as failed.
    func submit(_ request: VideoRequest) async -> SubmissionOutcome? {
        let body = SubmitTaskRequest(
            prompt: request.prompt,
            referenceImageURLs: request.referenceImageURLs,
            creationType: request.creationType,
            aspectRatio: request.aspectRatio,
            qualityMode: request.qualityMode,
            videoDuration: request.videoDuration,
            modelCode: request.modelCode
        )
        let started = ContinuousClock.now
        var attempts = 0
        var retries = VideoResult.Retries()
        while !Task.isCancelled {
            do {
                try await limiter.acquire()
            } catch {
                return nil
            }
            attempts += 1
            let error: ChanjingError
            // A call once started is never cancelled halfway (that would leave its outcome
            // unknown): it runs in its own task, bounded by the request timeout. Its outcome is
            // reported even when shutdown began meanwhile, so a created task gets its result.
            let call = Task { [client, tokens] () async -> Result<SubmitTaskResponse, ChanjingError> in
                do throws(ChanjingError) {
                    return .success(try await client.submit(body, tokens: tokens))
                } catch {
                    return .failure(error)
                }
            }
            switch await call.value {
            case .success(let response):
                limiter.record(throttled: false)
                return SubmissionOutcome(status: .submitted, creationID: response.creationID, attempts: attempts, retries: retries, traceID: response.traceID)
            case .failure(let caught):
                error = caught
            }
            if let code = error.chanjingCode { limiter.record(throttled: code == 40001) }
            if Task.isCancelled { return nil }

            func outcome(_ status: VideoResult.Status, _ code: ResultErrorCode, _ message: String) -> SubmissionOutcome {
                SubmissionOutcome(
                    status: status,
                    error: .init(code: code, message: message, chanjingCode: error.chanjingCode),
                    attempts: attempts,
                    retries: retries,
                    traceID: error.traceID
                )
            }
            let disposition = error.disposition
            switch disposition {
            case .rejected:
                return outcome(.rejected, .chanjingRejected, "Chanjing rejected the parameters: \(error)")
            case .credentialsRefused:
                return outcome(.failed, .credentialsRefused, "\(error)")
            case .quotaExhausted:
                return outcome(.failed, .quotaExhausted, "the Chanjing account's quota or balance is exhausted: \(error)")
            case .failed:
                return outcome(.failed, .chanjingError, "\(error)")
            case .refreshToken, .retrySafe, .retryAmbiguous:
                // A refused token is replaced at once; other failures back off.
                let delay = disposition == .refreshToken ? Duration.zero : policy.backoff(afterAttempt: attempts)
                let elapsed = ContinuousClock.now - started
                guard attempts < policy.maxAttempts, elapsed + delay < policy.maxElapsed else {
                    return outcome(.failed, .retriesExhausted, "gave up after \(attempts) attempts in \(elapsed.formatted(.units(allowed: [.seconds], fractionalPart: .show(length: 1)))); last error: \(error)")
                }
                if disposition == .retryAmbiguous { retries.ambiguous += 1 } else { retries.safe += 1 }
                logger.info(
                    "Retrying a Chanjing submit",
                    metadata: [
                        "request_id": "\(request.requestID)", "attempt": "\(attempts)", "kind": "\(disposition == .retryAmbiguous ? "ambiguous" : "safe")",
                        "delay_ms": "\(delay / .milliseconds(1))", "error": "\(error)",
                    ]
                )
                do {
                    try await Task.sleep(for: delay)
                } catch {
                    return nil
                }
            }
        }
        return nil
    }
}
