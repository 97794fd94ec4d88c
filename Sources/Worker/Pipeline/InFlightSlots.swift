import Synchronization

/// `--max-in-flight`: how many requests are at work at once. A request that waits for something
/// of its own (an earlier call of it that may still land, a task list that does not answer)
/// steps aside for that wait, so that reconciling after a crash does not keep the partition's
/// other requests from Chanjing; it takes the next free slot, before any new record, when the
/// wait is over. A request whose result is being written gives its slot back at once: only
/// Kafka's acknowledgements are left. At most twice `--max-in-flight` requests are held, at work
/// or not.
///
/// A slot given back goes straight to whoever waits for one, a rejoining request first: no
/// waiter looks for a free slot every so often.
final class InFlightSlots: Sendable {
    private struct State {
        let capacity: Int
        var active = 0
        var held = 0
        /// Requests back from a wait, waiting for a slot in the order they came back: new records
        /// wait behind them.
        var rejoiners: [(id: UInt64, continuation: CheckedContinuation<Bool, Never>)] = []
        var nextRejoinerID: UInt64 = 0
        /// Set on graceful shutdown: no new record is taken.
        var closed = false
        /// The consume loop, waiting for a slot for the next record.
        var taker: CheckedContinuation<Bool, Never>?

        /// At work and aside together: as many again as work may wait aside.
        var heldLimit: Int { 2 * capacity }
        var canTake: Bool { active + rejoiners.count < capacity && held < heldLimit }
        var canRejoin: Bool { active < capacity }

        mutating func admit() {
            active += 1
            held += 1
        }

        /// Takes a slot back for a request that stepped aside, when one is free and nobody came
        /// back before it.
        mutating func rejoinNow() -> Bool {
            guard canRejoin, rejoiners.isEmpty else { return false }
            active += 1
            return true
        }

        /// Gives a free slot to the first request waiting to rejoin, or else to the consume loop.
        mutating func grant() -> CheckedContinuation<Bool, Never>? {
            if canRejoin, !rejoiners.isEmpty {
                active += 1
                return rejoiners.removeFirst().continuation
            }
            guard let taker, canTake else { return nil }
            self.taker = nil
            admit()
            return taker
        }
    }

    let capacity: Int

    private let state: Mutex<State>

    init(capacity: Int) {
        self.capacity = max(1, capacity)
        state = Mutex(State(capacity: self.capacity))
    }

    /// Requests at work now (not aside).
    var active: Int { state.withLock { $0.active } }
    /// Requests taken and not ended, at work or not.
    var held: Int { state.withLock { $0.held } }
    /// Requests back from a wait aside, waiting for a slot.
    var rejoining: Int { state.withLock { $0.rejoiners.count } }

    /// Takes a slot for a new record, waiting while every slot is taken; false once
    /// ``close()`` was called or the task is cancelled.
    func take() async -> Bool {
        let taken = state.withLock { state -> Bool? in
            if state.closed { return false }
            guard state.canTake else { return nil }
            state.admit()
            return true
        }
        if let taken { return taken }
        return await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Bool, Never>) in
                // Checked under the lock, so that a cancellation or a close between the check
                // and the store finds the continuation stored.
                let granted = state.withLock { state -> Bool? in
                    if Task.isCancelled || state.closed { return false }
                    state.taker = continuation
                    return state.grant() != nil ? true : nil
                }
                if let granted { continuation.resume(returning: granted) }
            }
        } onCancel: {
            close()
        }
    }

    /// No new record is taken: a waiting ``take()`` returns false, and so does every later one.
    func close() {
        state.withLock { state -> CheckedContinuation<Bool, Never>? in
            state.closed = true
            defer { state.taker = nil }
            return state.taker
        }?.resume(returning: false)
    }

    /// A request gives its slot back: it ended, or it only waits for Kafka now.
    func release() {
        state.withLock { state in
            state.active -= 1
            return state.grant()
        }?.resume(returning: true)
    }

    /// A request taken with ``take()`` is over.
    func ended() {
        state.withLock { state in
            state.held -= 1
            return state.grant()
        }?.resume(returning: true)
    }

    /// A request steps aside for a wait of its own.
    func stepAside() { release() }

    /// Takes a slot again after ``stepAside()``, before any new record. Returns false once the
    /// request's `revocation` began or the task is cancelled: the request then only ends, holding
    /// a slot past the capacity until ``release()``.
    func rejoin(before revocation: Revocation) async -> Bool {
        if !state.withLock({ $0.rejoinNow() }) {
            let granted = await withTaskGroup(of: Bool.self) { group in
                group.addTask { await self.waitToRejoin() }
                group.addTask {
                    await revocation.wait()
                    return false
                }
                // Whichever ends first ends the other; the slot wait's answer says whether a
                // slot was granted, even when the revocation came first.
                let first = await group.next() ?? false
                group.cancelAll()
                return await group.reduce(first) { $0 || $1 }
            }
            if !granted { state.withLock { $0.active += 1 } }
        }
        return !revocation.hasBegun && !Task.isCancelled
    }

    /// Waits in line for a slot after the requests that came back before; true once granted,
    /// false when cancelled first.
    private func waitToRejoin() async -> Bool {
        let id = state.withLock { state in
            state.nextRejoinerID += 1
            return state.nextRejoinerID
        }
        return await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Bool, Never>) in
                // Checked under the lock: a cancellation between the check and the store finds
                // the continuation stored.
                let now = state.withLock { state -> Bool? in
                    if Task.isCancelled { return false }
                    if state.rejoinNow() { return true }
                    state.rejoiners.append((id, continuation))
                    return nil
                }
                if let now { continuation.resume(returning: now) }
            }
        } onCancel: {
            state.withLock { state in
                state.rejoiners.firstIndex { $0.id == id }.map { state.rejoiners.remove(at: $0).continuation }
            }?.resume(returning: false)
        }
    }
}
