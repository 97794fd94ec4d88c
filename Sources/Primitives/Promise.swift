import Synchronization

/// A value set once and awaited by any number of tasks: a ledger write's acknowledgement, the
/// readiness of a ledger partition, a key's turn, the first error that stops the worker, which
/// of two racers answered first. The first ``fulfill(_:)`` counts; later ones are ignored and
/// say so.
///
/// Two ways to wait, because cancellation means different things to different waiters: ``value``
/// waits until the value is set whatever happens (an acknowledgement that must not be lost),
/// ``valueUnlessCancelled()`` gives up when the waiting task is cancelled.
///
/// Inlinable, so that each module specializes it for its values: unspecialized, every promise
/// made and awaited looked its generic metadata up at run time (docs/benchmarks.md).
public final class Promise<Value: Sendable>: Sendable {
    @usableFromInline typealias Waiter = CheckedContinuation<Value?, Never>

    @usableFromInline enum State {
        /// The first waiter is held apart: most promises have one waiter, or none.
        case waiting(first: (id: UInt64, waiter: Waiter)?, more: [UInt64: Waiter])
        case set(Value)
    }

    @usableFromInline let state: Mutex<State>
    @usableFromInline let nextID: Atomic<UInt64>

    @inlinable
    public init() {
        state = Mutex(State.waiting(first: nil, more: [:]))
        nextID = Atomic<UInt64>(0)
    }

    /// Sets the value and resumes every waiter. Returns false, changing nothing, when the value
    /// was set before.
    @inlinable @discardableResult
    public func fulfill(_ value: Value) -> Bool {
        let waiters = state.withLock { state -> [Waiter]? in
            guard case .waiting(let first, let more) = state else { return nil }
            state = .set(value)
            return (first.map { [$0.waiter] } ?? []) + more.values
        }
        guard let waiters else { return false }
        for waiter in waiters { waiter.resume(returning: value) }
        return true
    }

    /// The value, once it is set; nil until then.
    @inlinable
    public var current: Value? {
        state.withLock { state in if case .set(let value) = state { value } else { nil } }
    }

    /// The value, once it is set. Cancellation does not end the wait: whoever holds the promise
    /// must fulfil it on every path.
    @inlinable
    public var value: Value {
        get async {
            if let value = current { return value }
            return await wait(id: nextID.add(1, ordering: .relaxed).newValue, cancellable: false)!
        }
    }

    /// The value once it is set, or nil as soon as the waiting task is cancelled.
    @inlinable
    public func valueUnlessCancelled() async -> Value? {
        if let value = current { return value }
        let id = nextID.add(1, ordering: .relaxed).newValue
        return await withTaskCancellationHandler {
            await wait(id: id, cancellable: true)
        } onCancel: {
            let waiter = state.withLock { state -> Waiter? in
                guard case .waiting(let first, var more) = state else { return nil }
                state = .waiting(first: nil, more: [:])  // so that `more` is changed in place
                if let first, first.id == id {
                    state = .waiting(first: nil, more: more)
                    return first.waiter
                }
                let removed = more.removeValue(forKey: id)
                state = .waiting(first: first, more: more)
                return removed
            }
            waiter?.resume(returning: nil)
        }
    }

    @inlinable
    func wait(id: UInt64, cancellable: Bool) async -> Value? {
        await withCheckedContinuation { (waiter: Waiter) in
            let now = state.withLock { state -> Value?? in
                switch state {
                case .set(let value):
                    return .some(value)
                case .waiting(let first, var more):
                    // Cancelled before it was registered: the cancellation handler found nothing to resume.
                    if cancellable, Task.isCancelled { return .some(nil) }
                    if first == nil {
                        state = .waiting(first: (id, waiter), more: more)
                    } else {
                        state = .waiting(first: nil, more: [:])  // so that `more` is changed in place
                        more[id] = waiter
                        state = .waiting(first: first, more: more)
                    }
                    return .none
                }
            }
            if let now { waiter.resume(returning: now) }
        }
    }
}
