/// Spaces calls evenly at a rate: each call gets the next free slot, `1/rate` after the previous
/// one, with no burst beyond one call. A caller that leaves before its slot comes (its partition
/// was revoked) gives the slot back, and the next caller takes it: slots of departed requests
/// must not delay the next owner's. Plain state; the caller sleeps.
struct Pacer {
    private var nextSlot: ContinuousClock.Instant?
    /// Future slots given back, earliest first.
    private var returned: [ContinuousClock.Instant] = []

    /// The instant the caller's call may start, given the current rate (nil: no limit).
    mutating func reserve(now: ContinuousClock.Instant, rate: Double?) -> ContinuousClock.Instant {
        guard let rate, rate > 0 else {
            nextSlot = nil
            returned.removeAll()
            return now
        }
        // An idle pacer does not bank slots: a quiet minute must not allow a burst.
        returned.removeAll { $0 < now }
        if !returned.isEmpty { return returned.removeFirst() }
        let slot = max(now, nextSlot ?? now)
        nextSlot = slot + .seconds(1 / rate)
        return slot
    }

    /// Takes the slot at `now` if it is free (no call waiting for one, none due later), for
    /// calls that must not delay any other: true when taken.
    mutating func reserveIfFree(now: ContinuousClock.Instant, rate: Double?) -> Bool {
        guard let rate, rate > 0 else { return true }
        returned.removeAll { $0 < now }
        guard returned.isEmpty, (nextSlot ?? now) <= now else { return false }
        nextSlot = now + .seconds(1 / rate)
        return true
    }

    /// The caller of `slot` will not call: the slot goes to the next caller.
    mutating func giveBack(_ slot: ContinuousClock.Instant, now: ContinuousClock.Instant) {
        guard nextSlot != nil, slot > now else { return }
        returned.insert(slot, at: returned.firstIndex { $0 > slot } ?? returned.endIndex)
    }
}
