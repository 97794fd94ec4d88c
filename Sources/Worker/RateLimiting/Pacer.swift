/// Spaces calls evenly at a rate: each call gets the next free slot, `1/rate` after the previous
/// one, with no burst beyond one call. Plain state; the caller sleeps.
struct Pacer {
    private var nextSlot: ContinuousClock.Instant?

    /// How long the caller must wait before its call, given the current rate (nil: no limit).
    mutating func reserve(now: ContinuousClock.Instant, rate: Double?) -> Duration {
        guard let rate, rate > 0 else {
            nextSlot = nil
            return .zero
        }
        let interval = Duration.seconds(1 / rate)
        // An idle pacer does not bank slots: a quiet minute must not allow a burst.
        let slot = max(now, nextSlot ?? now)
        nextSlot = slot + interval
        return slot - now
    }
}
