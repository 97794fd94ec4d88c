import Synchronization

/// Paces Chanjing calls (submits first, task queries in the gaps) at the lowest of three rates:
/// `--max-qps`; this worker's share of `--pool-max-qps` (in proportion to the partitions it
/// owns, so scaling the pool never overruns Chanjing's quota); and the rate ``AdaptiveRate``
/// learns from 40001 answers, growing by the same share of the pool's growth.
final class RateLimiter: Sendable {
    private struct State {
        var pacer = Pacer()
        var adaptive = AdaptiveRate()
        var ownedPartitions = 0
        var accepted = 0
        var throttled = 0
    }
    private let state = Mutex(State())
    private let maxQPS: Double?
    private let poolMaxQPS: Double?
    private let totalPartitions: Int

    init(maxQPS: Double?, poolMaxQPS: Double?, totalPartitions: Int) {
        self.maxQPS = maxQPS
        self.poolMaxQPS = poolMaxQPS
        self.totalPartitions = max(1, totalPartitions)
    }

    /// The rate calls are paced at now; nil when unlimited.
    var currentRate: Double? { state.withLock { rate(in: $0) } }

    /// Waits for the next call's slot. False when the request's `revocation` began or the task
    /// was cancelled first: the slot then goes to the next call.
    func acquire(before revocation: Revocation) async -> Bool {
        let now = ContinuousClock.now
        let slot = state.withLock { state in
            state.pacer.reserve(now: now, rate: rate(in: state))
        }
        if slot <= now { return true }
        if await revocation.sleep(until: slot) { return true }
        state.withLock { $0.pacer.giveBack(slot, now: .now) }
        return false
    }

    /// Takes a slot only if no submit is waiting for one: task queries go in the gaps between
    /// submits and never delay one. False when there is no gap now.
    func acquireIfIdle() -> Bool {
        let now = ContinuousClock.now
        return state.withLock { state in state.pacer.reserveIfFree(now: now, rate: rate(in: state)) }
    }

    /// Records how a call went, to adapt to Chanjing's quota.
    func record(throttled: Bool) {
        state.withLock { state in
            if throttled {
                state.throttled += 1
                state.adaptive.throttled(now: .now)
            } else {
                state.accepted += 1
                state.adaptive.accepted(now: .now)
            }
        }
    }

    /// Calls recorded so far (accepted, answered 40001), the partitions owned and the pace.
    var totals: (accepted: Int, throttled: Int, partitions: Int, rate: Double?) {
        state.withLock { ($0.accepted, $0.throttled, $0.ownedPartitions, rate(in: $0)) }
    }

    /// This worker now owns `count` partitions of the requests topic.
    func partitionsOwned(_ count: Int) {
        state.withLock { state in
            state.ownedPartitions = count
            if count > 0 { state.adaptive.share = min(1, Double(count) / Double(totalPartitions)) }
        }
    }

    private func rate(in state: State) -> Double? {
        var rates: [Double] = []
        if let maxQPS { rates.append(maxQPS) }
        if let poolMaxQPS { rates.append(poolMaxQPS * Double(state.ownedPartitions) / Double(totalPartitions)) }
        if let adaptive = state.adaptive.limit { rates.append(adaptive) }
        return rates.min()
    }
}
