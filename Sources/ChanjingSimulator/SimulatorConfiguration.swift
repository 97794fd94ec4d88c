/// How the simulated Chanjing behaves. Every field can be changed while it runs.
public struct SimulatorConfiguration: Sendable {
    /// The one app the simulator knows.
    public var appID: String
    public var secretKey: String
    /// How long issued tokens last.
    public var tokenLifetime: Duration
    /// Each submit waits a random time in this range (seconds) before answering.
    public var submitLatency: ClosedRange<Double>
    /// Share of submits answered 50000 without creating a task.
    public var failureRate: Double
    /// Submits per second accepted (a token bucket whose burst equals the rate); calls above it
    /// get 40001. Nil for no limit.
    public var qpsLimit: Double?
    /// Tasks the account can still pay for; nil for unlimited. At zero, submits answer with a
    /// balance error (蝉豆不足).
    public var balance: Int?
    /// How long a simulated video takes from submit to `Success`.
    public var generationTime: Duration
    /// Overrides the latency of a submit, by prompt, when it returns a value (seconds).
    public var latencyForPrompt: (@Sendable (String) -> Double?)?

    public init(
        appID: String = "sim-app",
        secretKey: String = "sim-secret",
        tokenLifetime: Duration = .seconds(86_400),
        submitLatency: ClosedRange<Double> = 0...0,
        failureRate: Double = 0,
        qpsLimit: Double? = nil,
        balance: Int? = nil,
        generationTime: Duration = .seconds(30),
        latencyForPrompt: (@Sendable (String) -> Double?)? = nil
    ) {
        self.appID = appID
        self.secretKey = secretKey
        self.tokenLifetime = tokenLifetime
        self.submitLatency = submitLatency
        self.failureRate = failureRate
        self.qpsLimit = qpsLimit
        self.balance = balance
        self.generationTime = generationTime
        self.latencyForPrompt = latencyForPrompt
    }
}
