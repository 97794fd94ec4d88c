/// Bounds and back-off for retrying transient Chanjing failures: exponential with full jitter,
/// capped per attempt, bounded by attempt count and by total time.
public struct RetryPolicy: Sendable, Equatable {
    /// Submit calls made for one request at most, the first included.
    public var maxAttempts: Int
    /// Time from the first call after which no new attempt starts.
    public var maxElapsed: Duration
    public var initialBackoff: Duration
    public var maxBackoff: Duration

    public init(
        maxAttempts: Int = 5,
        maxElapsed: Duration = .seconds(120),
        initialBackoff: Duration = .milliseconds(500),
        maxBackoff: Duration = .seconds(15)
    ) {
        self.maxAttempts = maxAttempts
        self.maxElapsed = maxElapsed
        self.initialBackoff = initialBackoff
        self.maxBackoff = maxBackoff
    }

    /// The wait before attempt `attempt + 1`: uniformly random up to
    /// `min(maxBackoff, initialBackoff * 2^(attempt-1))`. `random` returns a value in 0...1.
    public func backoff(afterAttempt attempt: Int, random: () -> Double = { Double.random(in: 0...1) }) -> Duration {
        let exponent = Double(min(max(attempt - 1, 0), 30))
        let ceiling = min(maxBackoff / .seconds(1), (initialBackoff / .seconds(1)) * pow2(exponent))
        return .milliseconds(Int64((ceiling * random() * 1000).rounded()))
    }

    private func pow2(_ exponent: Double) -> Double {
        Double(1 << Int(exponent))
    }
}
