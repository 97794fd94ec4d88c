import NIOCore
import NIOPosix
import Synchronization

/// The end of one partition assignment, for the requests fetched under it: it begins once, when
/// the partition is revoked, lost or assigned anew, and every request asleep under the
/// assignment wakes then. A revocation waits for its partition's requests in flight, so none may
/// sleep through one.
///
/// Told rather than looked for: a request waiting for its rate slot, the circuit, a token or a
/// reconciliation wakes once per wait, not every 200 ms to ask whether it is still wanted
/// (docs/benchmarks.md, "Where a paced request's CPU goes").
final class Revocation: Sendable {
    private struct Sleeper {
        let continuation: CheckedContinuation<Bool, Never>
        /// Nil until the timer is scheduled, and for a wait without a deadline.
        var timer: Scheduled<Void>?
    }

    private struct State {
        var begun = false
        var nextID: UInt64 = 0
        var sleepers: [UInt64: Sleeper] = [:]
    }

    private let state = Mutex(State())

    /// A revocation already begun: what a request fetched under an assignment that is gone waits on.
    static let begun: Revocation = {
        let revocation = Revocation()
        revocation.begin()
        return revocation
    }()

    init() {}

    /// True once the revocation began: the request is its partition's next owner's now.
    var hasBegun: Bool { state.withLock { $0.begun } }

    /// Begins the revocation: every sleeper wakes now, and every later sleep returns at once.
    func begin() {
        let sleepers = state.withLock { state -> [Sleeper] in
            guard !state.begun else { return [] }
            state.begun = true
            defer { state.sleepers = [:] }
            return Array(state.sleepers.values)
        }
        for sleeper in sleepers {
            sleeper.timer?.cancel()
            sleeper.continuation.resume(returning: false)
        }
    }

    /// Sleeps until `deadline` and returns true; returns false as soon as the revocation begins or
    /// the task is cancelled, and at once when either happened before.
    func sleep(until deadline: ContinuousClock.Instant) async -> Bool {
        await sleep(until: Optional(deadline))
    }

    /// Waits until the revocation begins or the task is cancelled.
    func wait() async {
        _ = await sleep(until: nil)
    }

    private func sleep(until deadline: ContinuousClock.Instant?) async -> Bool {
        let id = state.withLock { state -> UInt64? in
            guard !state.begun else { return nil }
            state.nextID += 1
            return state.nextID
        }
        guard let id, !Task.isCancelled else { return false }
        if let deadline, deadline <= .now { return true }
        return await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Bool, Never>) in
                // Checked under the lock: a cancellation or a revocation between the checks above
                // and the store finds the sleeper stored, or the store sees it.
                let stored = state.withLock { state -> Bool in
                    guard !state.begun, !Task.isCancelled else { return false }
                    state.sleepers[id] = Sleeper(continuation: continuation)
                    return true
                }
                guard stored else { return continuation.resume(returning: false) }
                guard let deadline else { return }
                // A NIO timer, unlike a `Task.sleep`, can be cancelled from outside the sleeping
                // task: it is when the sleep ends early, so no timer outlives its sleep.
                let timer = MultiThreadedEventLoopGroup.singleton.any().scheduleTask(
                    deadline: .now() + .nanoseconds(Int64((deadline - .now) / .nanoseconds(1)))
                ) { self.wake(id, returning: true) }
                let sleeping = state.withLock { state -> Bool in
                    guard state.sleepers[id] != nil else { return false }
                    state.sleepers[id]?.timer = timer
                    return true
                }
                if !sleeping { timer.cancel() }
            }
        } onCancel: {
            wake(id, returning: false)
        }
    }

    /// Ends one sleep, if it is still asleep.
    private func wake(_ id: UInt64, returning value: Bool) {
        guard let sleeper = state.withLock({ $0.sleepers.removeValue(forKey: id) }) else { return }
        if !value { sleeper.timer?.cancel() }
        sleeper.continuation.resume(returning: value)
    }
}
