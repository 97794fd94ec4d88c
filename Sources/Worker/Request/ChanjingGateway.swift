import Chanjing
import Foundation
import Ledger
import Logging
import Primitives

/// What a request's actions and the task tracker need of Chanjing: the circuit, the rate limit,
/// the pool's access token, the submit call, the search of the task list and task queries.
/// Every answer is told to the circuit and the rate limiter here, so that they learn from all
/// calls alike.
struct ChanjingGateway: Sendable {
    let client: ChanjingClient
    let tokens: any AccessTokenSource
    let limiter: RateLimiter
    let circuit: CircuitBreaker
    let reconciler: Reconciler
    let metrics: WorkerMetrics

    /// Waits while the circuit is open. Nil when the request's revocation began first; else
    /// whether it had to wait.
    func waitForCircuit(before revocation: Revocation) async -> Bool? {
        let waited = circuit.isOpen
        return await circuit.permit(before: revocation) ? waited : nil
    }

    /// The token for the next call, or nil when the request's revocation began while a new
    /// token was awaited: a revocation waits for the requests in flight, so this wait must not
    /// outlast the partition.
    func takeToken(before revocation: Revocation) async -> Result<String, ChanjingError>? {
        let taken: Result<String, ChanjingError>?
        if await tokens.hasUsableToken {
            taken = await Self.token(from: tokens)
        } else {
            // The fetch is not waited for once the request is gone: it goes on, for the next request.
            let first = Promise<Result<String, ChanjingError>?>()
            Task { [tokens] in first.fulfill(await Self.token(from: tokens)) }
            let revoked = Task {
                await revocation.wait()
                first.fulfill(nil)
            }
            taken = await first.valueUnlessCancelled() ?? nil
            revoked.cancel()
        }
        if case .failure(let error) = taken { report(error) }
        return taken
    }

    /// Sends one submit. A call once started is never cut short (that would leave its outcome
    /// unknown): it runs in its own task, bounded by the request timeout, and its answer is
    /// returned even when shutdown began meanwhile, so a created task gets its result.
    func submit(_ body: SubmitTaskRequest, token: String) async -> Result<SubmitTaskResponse, ChanjingError> {
        let started = ContinuousClock.now
        let answer = await Task { [client, tokens] () async -> Result<SubmitTaskResponse, ChanjingError> in
            do throws(ChanjingError) {
                return .success(try await client.submit(body, token: token, reportingTo: tokens))
            } catch {
                return .failure(error)
            }
        }.value
        metrics.chanjingCall(code: answer.outcomeLabel, duration: .now - started)
        switch answer {
        case .success:
            limiter.record(throttled: false)
            circuit.succeeded()
        case .failure(let error):
            report(error)
        }
        return answer
    }

    /// The newest task matching `body` created since `since` and not claimed by another request
    /// of `partition` in `ledger`.
    func search(_ body: SubmitTaskRequest, since: Date, requestID: String, partition: Int32, ledger: SubmissionLedger) async -> Result<CreationTask?, ChanjingError> {
        do throws(ChanjingError) {
            return .success(try await reconciler.find(body, since: since) { ledger.isClaimed($0, byOtherThan: requestID, partition: partition) })
        } catch {
            return .failure(error)
        }
    }

    /// Reads followed tasks (at most a batch) in one call, told to the circuit and the rate
    /// limiter like a submit.
    func query(_ creationIDs: [String]) async -> Result<[CreationTask], ChanjingError> {
        let answer: Result<[CreationTask], ChanjingError>
        do throws(ChanjingError) {
            answer = .success(try await client.tasks(creationIDs, tokens: tokens))
        } catch {
            answer = .failure(error)
        }
        switch answer {
        case .success:
            metrics.taskQuery(code: "0")
            limiter.record(throttled: false)
            circuit.succeeded()
        case .failure(let error):
            metrics.taskQuery(code: error.outcomeLabel)
            report(error)
        }
        return answer
    }

    /// Tells the rate limiter and the circuit of a failed call or token fetch.
    private func report(_ error: ChanjingError) {
        if let code = error.chanjingCode { limiter.record(throttled: code == 40001) }
        switch error.disposition {
        case .rejected, .failed:
            circuit.succeeded()
        case .credentialsRefused:
            circuit.tripped("\(error)")
        case .quotaExhausted:
            circuit.tripped("quota or balance exhausted: \(error)")
        case .refreshToken:
            break  // a refused token is replaced: it says nothing of Chanjing's health
        case .retrySafe, .retryAmbiguous:
            // 40001 slows the pool down (the rate limiter); it must not stop submissions.
            if error.chanjingCode != 40001 { circuit.failedTransiently("\(error)") }
        }
    }

    private static func token(from tokens: any AccessTokenSource) async -> Result<String, ChanjingError> {
        do throws(ChanjingError) {
            return .success(try await tokens.currentToken())
        } catch {
            return .failure(error)
        }
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
