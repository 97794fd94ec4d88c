/// Finds Chanjing's QPS quota without being told it: nothing is limited until the first 40001;
/// then the rate starts just under what was being accepted, grows additively while calls
/// succeed, and shrinks multiplicatively on 40001 (AIMD, as TCP does), so a worker converges
/// near the quota without a storm of rejected calls. With no 40001 for `releaseAfter`, the limit
/// is lifted again. Plain state; time is passed in.
///
/// In a pool every member meets the same quota. Each one grows by its ``share`` of the growth
/// (and keeps its share of the minimum), so the pool's rate grows as one client's would; a
/// quota overrun refuses calls of every member, so all of them cut together, as one client's
/// cut. Without the share, N members grow N times faster and overshoot together.
struct AdaptiveRate {
    /// The current limit in calls per second; nil while nothing needs limiting.
    private(set) var limit: Double?
    /// This member's share of the pool's calls (its partitions over all), from 0 to 1.
    var share: Double = 1
    let minimum: Double
    /// Factor applied on 40001.
    let decrease: Double
    /// Calls per second added per second of success.
    let increasePerSecond: Double
    /// Throttles within this time of a decrease answer calls made before it: ignored.
    let cooldown: Duration
    let releaseAfter: Duration

    private var lastDecrease: ContinuousClock.Instant?
    private var lastIncrease: ContinuousClock.Instant?
    private var lastThrottle: ContinuousClock.Instant?
    /// Accepted calls counted in whole-second buckets, for the starting rate (O(1) per call).
    private var bucketStart: ContinuousClock.Instant?
    private var bucketCount = 0
    private var previousBucketCount = 0

    init(minimum: Double = 1, decrease: Double = 0.9, increasePerSecond: Double = 1, cooldown: Duration = .seconds(1), releaseAfter: Duration = .seconds(120)) {
        self.minimum = minimum
        self.decrease = decrease
        self.increasePerSecond = increasePerSecond
        self.cooldown = cooldown
        self.releaseAfter = releaseAfter
    }

    /// Chanjing answered 40001.
    mutating func throttled(now: ContinuousClock.Instant) {
        lastThrottle = now
        if let lastDecrease, now - lastDecrease < cooldown { return }
        let base = limit ?? acceptedRate(now: now)
        limit = max(minimum * share, base * decrease)
        lastDecrease = now
        lastIncrease = now
    }

    /// A call was accepted (not throttled).
    mutating func accepted(now: ContinuousClock.Instant) {
        count(now: now)
        guard let current = limit else { return }
        if let lastThrottle, now - lastThrottle > releaseAfter {
            limit = nil
            return
        }
        let since = lastIncrease.map { now - $0 } ?? .zero
        limit = current + increasePerSecond * share * (since / .seconds(1))
        lastIncrease = now
    }

    private mutating func count(now: ContinuousClock.Instant) {
        rollBucket(now: now)
        bucketCount += 1
    }

    private mutating func rollBucket(now: ContinuousClock.Instant) {
        guard let start = bucketStart, now - start < .seconds(1) else {
            let elapsed = bucketStart.map { now - $0 } ?? .seconds(2)
            previousBucketCount = elapsed < .seconds(2) ? bucketCount : 0
            bucketStart = now
            bucketCount = 0
            return
        }
    }

    /// Accepted calls per second recently: the last full second, or the current one when busier.
    private mutating func acceptedRate(now: ContinuousClock.Instant) -> Double {
        rollBucket(now: now)
        return Double(max(previousBucketCount, bucketCount))
    }
}
