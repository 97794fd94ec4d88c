/// Sleeps until `deadline`, looking every `interval` whether the request is still wanted: a
/// revocation waits for its partitions' requests in flight, so none may sleep through one (the
/// consumer group waits for it meanwhile). Returns false, early, once `stillWanted` is false or
/// the task is cancelled.
func sleep(until deadline: ContinuousClock.Instant, every interval: Duration = .milliseconds(200), while stillWanted: () -> Bool) async -> Bool {
    while true {
        guard stillWanted(), !Task.isCancelled else { return false }
        let now = ContinuousClock.now
        if now >= deadline { return true }
        do {
            try await Task.sleep(until: min(deadline, now + interval), clock: .continuous)
        } catch {
            return false
        }
    }
}
