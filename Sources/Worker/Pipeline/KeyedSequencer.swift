import Synchronization

/// Runs requests that share a Kafka key one after another, in the order they were reserved;
/// requests with different keys (or none) run in parallel. Reservation happens in consume order
/// on the dispatch loop; the wait happens inside each request's own task.
final class KeyedSequencer: Sendable {
    /// One request's place in its key's line.
    struct Ticket: Sendable {
        fileprivate let key: [UInt8]
        fileprivate let previous: Latch?
        fileprivate let mine: Latch
    }

    private let tails = Mutex<[[UInt8]: Latch]>([:])

    /// Takes the next place in `key`'s line.
    func reserve(_ key: [UInt8]) -> Ticket {
        let mine = Latch()
        let previous = tails.withLock { tails in
            defer { tails[key] = mine }
            return tails[key]
        }
        return Ticket(key: key, previous: previous, mine: mine)
    }

    /// Waits until the request before it in line has finished. Throws `CancellationError` when
    /// cancelled while waiting.
    func waitForTurn(_ ticket: Ticket) async throws {
        try await ticket.previous?.wait()
    }

    /// Lets the next request of the key go. Call exactly once per ticket, whatever happened.
    func finish(_ ticket: Ticket) {
        ticket.mine.open()
        tails.withLock { tails in
            if tails[ticket.key] === ticket.mine { tails[ticket.key] = nil }
        }
    }
}

/// A one-shot gate: `wait()` returns once `open()` has been called.
final class Latch: Sendable {
    private struct State {
        var isOpen = false
        var waiters: [Int: CheckedContinuation<Void, any Error>] = [:]
        var nextID = 0
    }
    private let state = Mutex(State())

    func open() {
        let waiters = state.withLock { state -> [CheckedContinuation<Void, any Error>] in
            state.isOpen = true
            defer { state.waiters.removeAll() }
            return Array(state.waiters.values)
        }
        for waiter in waiters { waiter.resume() }
    }

    func wait() async throws {
        let id = state.withLock { state -> Int in
            state.nextID += 1
            return state.nextID
        }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                let resumeNow = state.withLock { state -> Bool in
                    if state.isOpen { return true }
                    if Task.isCancelled { return true }
                    state.waiters[id] = continuation
                    return false
                }
                if resumeNow {
                    if Task.isCancelled { continuation.resume(throwing: CancellationError()) } else { continuation.resume() }
                }
            }
        } onCancel: {
            let waiter = state.withLock { $0.waiters.removeValue(forKey: id) }
            waiter?.resume(throwing: CancellationError())
        }
    }
}
