import Synchronization

/// A value set once and awaited by any number of tasks: a ledger write's acknowledgement, the
/// readiness of a ledger partition. A wait ends only when the value is set, so every holder must
/// set it, on every path.
final class SetOnce<Value: Sendable>: Sendable {
    private enum State {
        /// The first waiter is held apart: most values have one waiter, or none.
        case waiting(first: CheckedContinuation<Value, Never>?, more: [CheckedContinuation<Value, Never>])
        case set(Value)
    }

    private let state = Mutex(State.waiting(first: nil, more: []))

    /// Sets the value and resumes every waiter; only the first call counts.
    func set(_ value: Value) {
        let waiters = state.withLock { state -> [CheckedContinuation<Value, Never>] in
            guard case .waiting(let first, let more) = state else { return [] }
            state = .set(value)
            return (first.map { [$0] } ?? []) + more
        }
        for waiter in waiters { waiter.resume(returning: value) }
    }

    /// The value, once it is set.
    var value: Value {
        get async {
            // Usually set already (an outcome is written while its result is published).
            if let value = state.withLock({ state -> Value? in if case .set(let value) = state { value } else { nil } }) { return value }
            return await withCheckedContinuation { waiter in
                let value = state.withLock { state -> Value? in
                    switch state {
                    case .set(let value):
                        return value
                    case .waiting(nil, let more):
                        state = .waiting(first: waiter, more: more)
                    case .waiting(let first, var more):
                        state = .waiting(first: nil, more: [])
                        more.append(waiter)
                        state = .waiting(first: first, more: more)
                    }
                    return nil
                }
                if let value { waiter.resume(returning: value) }
            }
        }
    }
}
