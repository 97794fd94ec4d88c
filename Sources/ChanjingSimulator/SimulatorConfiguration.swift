/// Faults the simulator injects into submits, each with its share of calls (0 to 1).
public struct SimulatedFaults: Sendable, Equatable {
    /// HTTP 500 with an HTML body; no task is created.
    public var http500: Double
    /// The task is created, then HTTP 502 with an HTML body (an ambiguous failure).
    public var http502AfterCreating: Double
    /// HTTP 200 with a body that is not JSON; no task is created.
    public var notJSON: Double
    /// The task is created, then the answer waits `hangSeconds` (longer than a client's timeout).
    public var hangAfterCreating: Double
    public var hangSeconds: Double

    public init(http500: Double = 0, http502AfterCreating: Double = 0, notJSON: Double = 0, hangAfterCreating: Double = 0, hangSeconds: Double = 30) {
        self.http500 = http500
        self.http502AfterCreating = http502AfterCreating
        self.notJSON = notJSON
        self.hangAfterCreating = hangAfterCreating
        self.hangSeconds = hangSeconds
    }
}

/// How the simulated Chanjing behaves. Every field can be changed while it runs.
public struct SimulatorConfiguration: Sendable {
    /// The one app the simulator knows.
    public var appID: String
    public var secretKey: String
    /// How long issued tokens last.
    public var tokenLifetime: Duration
    /// How long the token endpoint takes to answer, after it has issued the token.
    public var tokenLatency: Duration = .zero
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
    /// Seconds a simulated video takes from submit to its end, drawn per task from this range.
    public var renderTime: ClosedRange<Double>
    /// Share of renders that end `Error` or `Fail` with an `err_msg` (0 to 1).
    public var renderFailureRate: Double
    /// Share of renders that end `Success` without any `output_url` (0 to 1).
    public var renderWithoutOutputRate: Double = 0
    /// Transport-level faults injected into submits.
    public var faults: SimulatedFaults
    /// While true, the task list (`task/page`) answers 50000: searches cannot run.
    public var taskListDown = false
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
        renderTime: ClosedRange<Double> = 20...40,
        renderFailureRate: Double = 0,
        faults: SimulatedFaults = SimulatedFaults(),
        latencyForPrompt: (@Sendable (String) -> Double?)? = nil
    ) {
        self.appID = appID
        self.secretKey = secretKey
        self.tokenLifetime = tokenLifetime
        self.submitLatency = submitLatency
        self.failureRate = failureRate
        self.qpsLimit = qpsLimit
        self.balance = balance
        self.renderTime = renderTime
        self.renderFailureRate = renderFailureRate
        self.latencyForPrompt = latencyForPrompt
        self.faults = faults
    }
}
