import Primitives
import Synchronization

/// Runs requests that share a Kafka key one after another, in the order they were reserved;
/// requests with different keys (or none) run in parallel. Reservation happens in consume order
/// on the dispatch loop; the wait happens inside each request's own task.
final class KeyedSequencer: Sendable {
    /// One request's place in its key's line.
    struct Ticket: Sendable {
        fileprivate let key: [UInt8]
        fileprivate let previous: Promise<Void>?
        fileprivate let mine: Promise<Void>
    }

    private let tails = Mutex<[[UInt8]: Promise<Void>]>([:])

    /// Takes the next place in `key`'s line.
    func reserve(_ key: [UInt8]) -> Ticket {
        let mine = Promise<Void>()
        let previous = tails.withLock { tails in
            defer { tails[key] = mine }
            return tails[key]
        }
        return Ticket(key: key, previous: previous, mine: mine)
    }

    /// Waits until the request before it in line has finished. Throws `CancellationError` when
    /// cancelled while waiting.
    func waitForTurn(_ ticket: Ticket) async throws {
        guard let previous = ticket.previous else { return }
        if await previous.valueUnlessCancelled() == nil { throw CancellationError() }
    }

    /// Lets the next request of the key go. Call exactly once per ticket, whatever happened.
    func finish(_ ticket: Ticket) {
        ticket.mine.fulfill(())
        tails.withLock { tails in
            if tails[ticket.key] === ticket.mine { tails[ticket.key] = nil }
        }
    }
}
