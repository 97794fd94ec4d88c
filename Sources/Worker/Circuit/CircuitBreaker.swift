import Logging
import Primitives
import Synchronization

/// Stops the worker from burning its backlog into `failed` results while Chanjing is down or
/// the account cannot submit: requests wait (uncommitted, so consumption pauses once the
/// in-flight limit is reached) until a probe gets a normal answer.
///
/// A waiting request is told when the circuit changes, and sleeps until the open period ends
/// otherwise, rather than looking every so often: an outage can hold every slot for hours.
final class CircuitBreaker: Sendable {
    private struct State {
        var circuit: CircuitState
        /// Fulfilled, and replaced, when the circuit opens or closes: what waiting requests sleep on.
        var changed = Promise<Void>()
        /// How many times a waiting request fell asleep: wake-ups, for tests.
        var sleeps = 0
    }

    private let state: Mutex<State>
    private let logger: Logger

    init(state: CircuitState = CircuitState(), logger: Logger) {
        self.state = Mutex(State(circuit: state))
        self.logger = logger
    }

    /// Whether the circuit is open (or probing) now.
    var isOpen: Bool { state.withLock { $0.circuit.isOpen } }

    /// How many times requests fell asleep waiting for the circuit.
    var sleeps: Int { state.withLock { $0.sleeps } }

    /// Waits until a call may go ahead. Returns false when the task is cancelled or the request's
    /// `revocation` begins while it waits: it was not sent.
    func permit(before revocation: Revocation) async -> Bool {
        while true {
            let decision = state.withLock { state -> (until: ContinuousClock.Instant, changed: Promise<Void>)? in
                guard case .wait(let until) = state.circuit.permit(now: .now) else { return nil }
                state.sleeps += 1
                return (until, state.changed)
            }
            guard let decision else { return true }
            guard await Self.sleep(until: decision.until, orUntil: decision.changed, before: revocation) else { return false }
        }
    }

    func succeeded() {
        change { $0.succeeded() }
    }

    func failedTransiently(_ reason: String) {
        change { $0.failedTransiently(now: .now, reason: reason) }
    }

    func tripped(_ reason: String) {
        change { $0.tripped(now: .now, reason: reason) }
    }

    /// Sleeps until `deadline` or the circuit's change, whichever comes first (true); false when
    /// the revocation begins or the task is cancelled first.
    private static func sleep(
        until deadline: ContinuousClock.Instant,
        orUntil changed: Promise<Void>,
        before revocation: Revocation
    ) async -> Bool {
        await withTaskGroup(of: Bool.self) { group in
            group.addTask { await revocation.sleep(until: deadline) }
            group.addTask { await changed.valueUnlessCancelled() != nil }
            defer { group.cancelAll() }
            return await group.next() ?? false
        }
    }

    /// Applies an answer to the circuit; when it opens or closes, wakes the waiting requests and logs.
    private func change(_ event: (inout CircuitState) -> CircuitState.Transition?) {
        let changed = state.withLock { state -> (CircuitState.Transition, Promise<Void>, reason: String)? in
            guard let transition = event(&state.circuit) else { return nil }
            defer { state.changed = Promise() }
            return (transition, state.changed, state.circuit.reason)
        }
        guard let (transition, waiters, reason) = changed else { return }
        waiters.fulfill(())
        switch transition {
        case .opened(let duration):
            logger.error("Chanjing circuit open: submissions paused, requests stay uncommitted; next probe in \(duration)", metadata: ["reason": "\(reason)"])
        case .closed:
            logger.notice("Chanjing circuit closed: submissions resume")
        }
    }
}
