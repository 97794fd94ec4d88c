import PoolCoordination
import ServiceLifecycle

/// Tells the pool, every `interval`, how this member is doing (partitions, accepted and throttled
/// calls per second, pace), so that `/metrics` and `chanjing-worker pool` show every member.
struct PoolHeartbeat: Service {
    let source: CoordinatedTokenSource
    let limiter: RateLimiter
    let interval: Duration

    func run() async {
        await cancelWhenGracefulShutdown {
            var last = limiter.totals
            var lastAt = ContinuousClock.now
            repeat {
                let now = limiter.totals
                let seconds = max(0.001, (ContinuousClock.now - lastAt) / .seconds(1))
                await source.announce(
                    MemberReport(
                        member: source.member, partitions: now.partitions,
                        acceptedPerSecond: Double(now.accepted - last.accepted) / seconds,
                        throttledPerSecond: Double(now.throttled - last.throttled) / seconds,
                        paceLimit: now.rate
                    )
                )
                (last, lastAt) = (now, .now)
            } while (try? await Task.sleep(for: interval)) != nil
        }
    }
}
