import ArgumentParser

/// The flags of `chanjing-worker run`. Every value is optional here: a flag given wins over its
/// environment variable, which wins over the default (see ``ConfigurationResolver``).
public struct RunOptions: ParsableArguments {
    @Option(name: .customLong("brokers"), help: .init(OptionCatalog.help("--brokers")))
    var brokers: String?
    @Option(name: .customLong("group"), help: .init(OptionCatalog.help("--group")))
    var group: String?
    @Option(name: .customLong("requests-topic"), help: .init(OptionCatalog.help("--requests-topic")))
    var requestsTopic: String?
    @Option(name: .customLong("results-topic"), help: .init(OptionCatalog.help("--results-topic")))
    var resultsTopic: String?
    @Option(name: .customLong("coordination-topic"), help: .init(OptionCatalog.help("--coordination-topic")))
    var coordinationTopic: String?
    @Option(name: .customLong("chanjing-base-url"), help: .init(OptionCatalog.help("--chanjing-base-url")))
    var chanjingBaseURL: String?
    @Option(name: .customLong("kafka"), help: .init(OptionCatalog.help("--kafka")))
    var kafka: [String] = []
    @Option(name: .customLong("auto-offset-reset"), help: .init(OptionCatalog.help("--auto-offset-reset")))
    var autoOffsetReset: String?
    @Option(name: .customLong("max-in-flight"), help: .init(OptionCatalog.help("--max-in-flight")))
    var maxInFlight: String?
    @Option(name: .customLong("ordering"), help: .init(OptionCatalog.help("--ordering")))
    var ordering: String?
    @Option(name: .customLong("max-qps"), help: .init(OptionCatalog.help("--max-qps")))
    var maxQPS: String?
    @Option(name: .customLong("pool-max-qps"), help: .init(OptionCatalog.help("--pool-max-qps")))
    var poolMaxQPS: String?
    @Option(name: .customLong("max-request-age"), help: .init(OptionCatalog.help("--max-request-age")))
    var maxRequestAge: String?
    @Option(name: .customLong("max-attempts"), help: .init(OptionCatalog.help("--max-attempts")))
    var maxAttempts: String?
    @Option(name: .customLong("max-retry-time"), help: .init(OptionCatalog.help("--max-retry-time")))
    var maxRetryTime: String?
    @Option(name: .customLong("connect-timeout"), help: .init(OptionCatalog.help("--connect-timeout")))
    var connectTimeout: String?
    @Option(name: .customLong("submit-timeout"), help: .init(OptionCatalog.help("--submit-timeout")))
    var submitTimeout: String?
    @Option(name: .customLong("commit-interval"), help: .init(OptionCatalog.help("--commit-interval")))
    var commitInterval: String?
    @Option(name: .customLong("drain-timeout"), help: .init(OptionCatalog.help("--drain-timeout")))
    var drainTimeout: String?
    @Option(name: .customLong("startup-timeout"), help: .init(OptionCatalog.help("--startup-timeout")))
    var startupTimeout: String?
    @Option(name: .customLong("max-request-bytes"), help: .init(OptionCatalog.help("--max-request-bytes")))
    var maxRequestBytes: String?
    @Option(name: .customLong("max-prompt-length"), help: .init(OptionCatalog.help("--max-prompt-length")))
    var maxPromptLength: String?
    @Option(name: .customLong("max-reference-images"), help: .init(OptionCatalog.help("--max-reference-images")))
    var maxReferenceImages: String?
    @Option(name: .customLong("token-file-wait"), help: .init(OptionCatalog.help("--token-file-wait")))
    var tokenFileWait: String?
    @Option(name: .customLong("log-level"), help: .init(OptionCatalog.help("--log-level")))
    var logLevel: String?
    @Option(name: .customLong("ledger"), help: .init(OptionCatalog.help("--ledger")))
    var ledger: String?
    @Option(name: .customLong("ledger-topic"), help: .init(OptionCatalog.help("--ledger-topic")))
    var ledgerTopic: String?
    @Option(name: .customLong("ledger-memory"), help: .init(OptionCatalog.help("--ledger-memory")))
    var ledgerMemory: String?
    @Option(name: .customLong("reconcile-policy"), help: .init(OptionCatalog.help("--reconcile-policy")))
    var reconcilePolicy: String?
    @Option(name: .customLong("reconcile-delay"), help: .init(OptionCatalog.help("--reconcile-delay")))
    var reconcileDelay: String?
    @Option(name: .customLong("track"), help: .init(OptionCatalog.help("--track")))
    var track: String?
    @Option(name: .customLong("completions-topic"), help: .init(OptionCatalog.help("--completions-topic")))
    var completionsTopic: String?
    @Option(name: .customLong("track-first-check"), help: .init(OptionCatalog.help("--track-first-check")))
    var trackFirstCheck: String?
    @Option(name: .customLong("track-interval"), help: .init(OptionCatalog.help("--track-interval")))
    var trackInterval: String?
    @Option(name: .customLong("max-track-time"), help: .init(OptionCatalog.help("--max-track-time")))
    var maxTrackTime: String?
    @Option(name: .customLong("log-format"), help: .init(OptionCatalog.help("--log-format")))
    var logFormat: String?
    @Option(name: .customLong("http-port"), help: .init(OptionCatalog.help("--http-port")))
    var httpPort: String?

    public init() {}

    /// The value given on the command line for `flag`, if any.
    func commandLineValue(_ flag: String) -> String? {
        switch flag {
        case "--brokers": brokers
        case "--group": group
        case "--requests-topic": requestsTopic
        case "--results-topic": resultsTopic
        case "--coordination-topic": coordinationTopic
        case "--chanjing-base-url": chanjingBaseURL
        case "--auto-offset-reset": autoOffsetReset
        case "--max-in-flight": maxInFlight
        case "--ordering": ordering
        case "--max-qps": maxQPS
        case "--pool-max-qps": poolMaxQPS
        case "--max-request-age": maxRequestAge
        case "--max-attempts": maxAttempts
        case "--max-retry-time": maxRetryTime
        case "--connect-timeout": connectTimeout
        case "--submit-timeout": submitTimeout
        case "--commit-interval": commitInterval
        case "--drain-timeout": drainTimeout
        case "--startup-timeout": startupTimeout
        case "--max-request-bytes": maxRequestBytes
        case "--max-prompt-length": maxPromptLength
        case "--max-reference-images": maxReferenceImages
        case "--token-file-wait": tokenFileWait
        case "--log-level": logLevel
        case "--ledger": ledger
        case "--ledger-topic": ledgerTopic
        case "--ledger-memory": ledgerMemory
        case "--reconcile-policy": reconcilePolicy
        case "--reconcile-delay": reconcileDelay
        case "--track": track
        case "--completions-topic": completionsTopic
        case "--track-first-check": trackFirstCheck
        case "--track-interval": trackInterval
        case "--max-track-time": maxTrackTime
        case "--log-format": logFormat
        case "--http-port": httpPort
        default: nil
        }
    }
}
