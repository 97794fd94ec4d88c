/// The circuit breaker's decisions, with no I/O: whether a submit may go ahead, and how
/// failures open the circuit and successes close it.
///
/// Closed: calls go ahead. Open: no call goes ahead until the open period ends; then exactly
/// one call goes through as a probe (half-open). A normal answer to the probe closes the
/// circuit; another failure reopens it for twice as long, up to `maxOpen`.
struct CircuitState {
    enum Phase: Equatable {
        case closed
        case open(until: ContinuousClock.Instant)
        case probing(since: ContinuousClock.Instant)
    }

    /// Whether a call may go ahead now.
    enum Permission: Equatable {
        /// Now, possibly as the probe.
        case granted
        /// Not before `until` (the open period's end, or the probe's timeout), unless the circuit
        /// changes first: an answer to the probe closes or reopens it.
        case wait(until: ContinuousClock.Instant)
    }

    /// A change callers log, and tell the requests waiting.
    enum Transition: Equatable {
        case opened(for: Duration)
        case closed
    }

    private(set) var phase = Phase.closed
    /// Why it last opened.
    private(set) var reason = ""
    private var consecutiveFailures = 0
    private var timesOpened = 0

    /// Consecutive transient failures (across all requests) that open the circuit.
    let failureThreshold: Int
    let initialOpen: Duration
    let maxOpen: Duration
    /// A probe that has not reported back within this time is presumed lost; another may go.
    let probeTimeout: Duration

    init(failureThreshold: Int = 20, initialOpen: Duration = .seconds(5), maxOpen: Duration = .seconds(300), probeTimeout: Duration = .seconds(60)) {
        self.failureThreshold = failureThreshold
        self.initialOpen = initialOpen
        self.maxOpen = maxOpen
        self.probeTimeout = probeTimeout
    }

    var isOpen: Bool { phase != .closed }

    /// Whether a call may go ahead now; taking the probe's place when the open period is over.
    mutating func permit(now: ContinuousClock.Instant) -> Permission {
        switch phase {
        case .closed:
            return .granted
        case .open(let until) where now >= until:
            phase = .probing(since: now)
            return .granted
        case .probing(let since) where now - since >= probeTimeout:
            phase = .probing(since: now)
            return .granted
        case .open(let until):
            return .wait(until: until)
        case .probing(let since):
            return .wait(until: since + probeTimeout)
        }
    }

    /// Chanjing answered normally (success, or an answer about the request itself).
    mutating func succeeded() -> Transition? {
        consecutiveFailures = 0
        guard phase != .closed else { return nil }
        phase = .closed
        timesOpened = 0
        return .closed
    }

    /// A transient failure (5xx, 50000, timeout, connection refused...).
    mutating func failedTransiently(now: ContinuousClock.Instant, reason: String) -> Transition? {
        consecutiveFailures += 1
        if case .probing = phase { return open(now: now, reason: reason) }
        guard phase == .closed, consecutiveFailures >= failureThreshold else { return nil }
        return open(now: now, reason: "\(consecutiveFailures) Chanjing calls failed in a row; last: \(reason)")
    }

    /// A failure no request can get past until something changes outside: refused credentials,
    /// exhausted quota or balance.
    mutating func tripped(now: ContinuousClock.Instant, reason: String) -> Transition? {
        if case .open = phase { return nil }  // answers to calls made before it opened
        return open(now: now, reason: reason)
    }

    private mutating func open(now: ContinuousClock.Instant, reason: String) -> Transition {
        timesOpened += 1
        let doubled = initialOpen * (1 << min(timesOpened - 1, 16))
        let duration = min(maxOpen, doubled)
        phase = .open(until: now + duration)
        self.reason = reason
        return .opened(for: duration)
    }
}
