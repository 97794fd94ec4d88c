import Logging
import Synchronization

/// Stops the worker from burning its backlog into `failed` results while Chanjing is down or
/// the account cannot submit: requests wait (uncommitted, so consumption pauses once the
/// in-flight limit is reached) until a probe gets a normal answer.
final class CircuitBreaker: Sendable {
    private let state: Mutex<CircuitState>
    private let logger: Logger
    /// How often waiting requests look again.
    private let pollInterval: Duration

    init(state: CircuitState = CircuitState(), pollInterval: Duration = .milliseconds(200), logger: Logger) {
        self.state = Mutex(state)
        self.pollInterval = pollInterval
        self.logger = logger
    }

    /// Whether the circuit is open (or probing) now.
    var isOpen: Bool { state.withLock { $0.isOpen } }

    /// Waits until a call may go ahead. Returns false when the task is cancelled or the request's
    /// `revocation` begins while it waits: it was not sent.
    func permit(before revocation: Revocation) async -> Bool {
        while !state.withLock({ $0.permit(now: .now) }) {
            guard await revocation.sleep(until: .now + pollInterval) else { return false }
        }
        return true
    }

    func succeeded() {
        report(state.withLock { $0.succeeded() })
    }

    func failedTransiently(_ reason: String) {
        report(state.withLock { $0.failedTransiently(now: .now, reason: reason) })
    }

    func tripped(_ reason: String) {
        report(state.withLock { $0.tripped(now: .now, reason: reason) })
    }

    private func report(_ transition: CircuitState.Transition?) {
        switch transition {
        case .opened(let duration):
            let reason = state.withLock { $0.reason }
            logger.error("Chanjing circuit open: submissions paused, requests stay uncommitted; next probe in \(duration)", metadata: ["reason": "\(reason)"])
        case .closed:
            logger.notice("Chanjing circuit closed: submissions resume")
        case nil:
            break
        }
    }
}
