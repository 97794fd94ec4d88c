import Chanjing
import Kafka
import Ledger
import Logging
import VideoContract
import Worker

/// What `chanjing-worker run` resolved from its flags and environment.
public struct ResolvedConfiguration: Sendable {
    public var worker: WorkerConfiguration
    public var credentials: ChanjingCredentials
    public var logLevel: Logger.Level
    public var logFormat: LogFormat
}

/// Turns flags and environment into a validated configuration. Each setting comes from its flag,
/// else its environment variable, else its default; any bad value stops start-up with one line.
public struct ConfigurationResolver {
    let options: RunOptions
    let environment: [String: String]

    public init(options: RunOptions, environment: [String: String]) {
        self.options = options
        self.environment = environment
    }

    public func resolve() throws(ConfigurationError) -> ResolvedConfiguration {
        let submitTimeout = try seconds("--submit-timeout")
        let drainTimeout = try seconds("--drain-timeout")
        guard drainTimeout > submitTimeout else {
            throw ConfigurationError("--drain-timeout (\(drainTimeout)) must exceed --submit-timeout (\(submitTimeout)) so in-flight submits can finish on shutdown")
        }
        let autoOffsetReset = value("--auto-offset-reset")
        guard ["earliest", "latest", "smallest", "largest", "beginning", "end", "error"].contains(autoOffsetReset) else {
            throw ConfigurationError("invalid --auto-offset-reset '\(autoOffsetReset)' (\(env("--auto-offset-reset"))): use earliest or latest")
        }
        let maxInFlight = try integer("--max-in-flight", minimum: 1)
        var chanjing = ChanjingClient.Configuration(
            baseURL: try url("--chanjing-base-url"),
            connectTimeout: try seconds("--connect-timeout"),
            requestTimeout: submitTimeout,
            maxConnections: maxInFlight
        )
        chanjing.proxyURL = environment["HTTPS_PROXY"] ?? environment["https_proxy"]
        let ledger = try ledger(submitTimeout: submitTimeout)
        let worker = WorkerConfiguration(
            brokers: try nonEmpty("--brokers"),
            groupID: try nonEmpty("--group"),
            requestsTopic: try nonEmpty("--requests-topic"),
            resultsTopic: try nonEmpty("--results-topic"),
            coordinationTopic: try nonEmpty("--coordination-topic"),
            kafkaProperties: try kafkaProperties(),
            autoOffsetReset: autoOffsetReset,
            maxInFlight: maxInFlight,
            ordering: try ordering(),
            maxQPS: try rate("--max-qps"),
            poolMaxQPS: try rate("--pool-max-qps"),
            maxRequestAge: value("--max-request-age").trimmingCharacters(in: .whitespaces).isEmpty ? nil : try seconds("--max-request-age"),
            commitInterval: try seconds("--commit-interval"),
            drainTimeout: drainTimeout,
            startupTimeout: try seconds("--startup-timeout"),
            retry: RetryPolicy(maxAttempts: try integer("--max-attempts", minimum: 1), maxElapsed: try seconds("--max-retry-time")),
            limits: RequestLimits(
                maxMessageBytes: try integer("--max-request-bytes", minimum: 1),
                maxPromptScalars: try integer("--max-prompt-length", minimum: 1),
                maxReferenceImages: try integer("--max-reference-images", minimum: 0)
            ),
            chanjing: chanjing,
            httpPort: try integer("--http-port", minimum: 0, maximum: 65_535),
            ledger: ledger,
            tracking: try tracking(ledgerOn: ledger != nil)
        )
        guard worker.requestsTopic != worker.resultsTopic else {
            throw ConfigurationError("--requests-topic and --results-topic are both '\(worker.requestsTopic)'; results must go to their own topic")
        }
        let otherTopics = [worker.requestsTopic, worker.resultsTopic, worker.ledger?.topic].compactMap { $0 }
        guard !otherTopics.contains(worker.coordinationTopic) else {
            throw ConfigurationError("--coordination-topic '\(worker.coordinationTopic)' is also the requests, results or ledger topic; give it its own topic")
        }
        if let completions = worker.tracking?.topic, (otherTopics + [worker.coordinationTopic]).contains(completions) {
            throw ConfigurationError("--completions-topic '\(completions)' is also the requests, results, ledger or coordination topic; give it its own topic")
        }
        let levelText = value("--log-level")
        guard let logLevel = Logger.Level(rawValue: levelText.lowercased()) else {
            throw ConfigurationError("invalid --log-level '\(levelText)' (\(env("--log-level"))): use trace, debug, info, notice, warning, error or critical")
        }
        let formatText = value("--log-format")
        guard let logFormat = LogFormat(rawValue: formatText.lowercased()) else {
            throw ConfigurationError("invalid --log-format '\(formatText)' (\(env("--log-format"))): use text or json")
        }
        return ResolvedConfiguration(worker: worker, credentials: try credentials(), logLevel: logLevel, logFormat: logFormat)
    }

    // MARK: Ledger

    private func ledger(submitTimeout: Duration) throws(ConfigurationError) -> LedgerSettings? {
        switch value("--ledger").lowercased() {
        case "off": return nil
        case "on": break
        case let other: throw ConfigurationError("invalid --ledger '\(other)' (\(env("--ledger"))): use on or off")
        }
        let policyText = value("--reconcile-policy")
        guard let policy = ReconcilePolicy(rawValue: policyText) else {
            throw ConfigurationError(
                "invalid --reconcile-policy '\(policyText)' (\(env("--reconcile-policy"))): use \(ReconcilePolicy.allCases.map(\.rawValue).joined(separator: ", "))"
            )
        }
        let delay = value("--reconcile-delay").trimmingCharacters(in: .whitespaces).isEmpty ? nil : try seconds("--reconcile-delay")
        if let delay, delay < submitTimeout {
            throw ConfigurationError("--reconcile-delay (\(delay)) must be at least --submit-timeout (\(submitTimeout)): an interrupted call may land that late")
        }
        return LedgerSettings(topic: try nonEmpty("--ledger-topic"), policy: policy, reconcileDelay: delay, memoryLimit: try memoryLimit())
    }

    // MARK: Tracking

    /// Tracking settings, or nil with `--track off`. Not given, `--track` follows the ledger: a
    /// worker run with `--ledger off` has nowhere to keep the tasks it follows.
    private func tracking(ledgerOn: Bool) throws(ConfigurationError) -> TrackingSettings? {
        let given = options.commandLineValue("--track") ?? environment[env("--track")].flatMap { $0.isEmpty ? nil : $0 }
        switch (given ?? (ledgerOn ? "on" : "off")).lowercased() {
        case "off": return nil
        case "on": break
        case let other: throw ConfigurationError("invalid --track '\(other)' (\(env("--track"))): use on or off")
        }
        guard ledgerOn else {
            throw ConfigurationError("--track on needs the ledger, which holds the tasks being followed: run with --ledger on, or --track off")
        }
        let settings = TrackingSettings(
            topic: try nonEmpty("--completions-topic"), firstCheck: try seconds("--track-first-check"), interval: try seconds("--track-interval"),
            maxTrackTime: try seconds("--max-track-time")
        )
        guard settings.maxTrackTime > settings.firstCheck else {
            throw ConfigurationError("--max-track-time (\(settings.maxTrackTime)) must exceed --track-first-check (\(settings.firstCheck)): a task is read at least once")
        }
        return settings
    }

    // MARK: Credentials

    func credentials() throws(ConfigurationError) -> ChanjingCredentials {
        let appID = nonBlankEnvironment("CHANJING_APP_ID")
        let secret = nonBlankEnvironment("CHANJING_SECRET_KEY")
        let token = nonBlankEnvironment("CHANJING_ACCESS_TOKEN")
        let file = nonBlankEnvironment("CHANJING_ACCESS_TOKEN_FILE")
        let kinds = [appID != nil || secret != nil, token != nil, file != nil].filter { $0 }.count
        guard kinds <= 1 else {
            throw ConfigurationError("set only one of CHANJING_APP_ID/CHANJING_SECRET_KEY, CHANJING_ACCESS_TOKEN or CHANJING_ACCESS_TOKEN_FILE")
        }
        if let token { return .accessToken(token) }
        if let file { return .tokenFile(path: file, replacementWait: try seconds("--token-file-wait")) }
        switch (appID, secret) {
        case (let appID?, let secret?): return .app(appID: appID, secretKey: secret)
        case (nil, _?): throw ConfigurationError("CHANJING_SECRET_KEY is set but CHANJING_APP_ID is not")
        case (_?, nil): throw ConfigurationError("CHANJING_APP_ID is set but CHANJING_SECRET_KEY is not")
        case (nil, nil):
            throw ConfigurationError("no Chanjing credentials: set CHANJING_APP_ID and CHANJING_SECRET_KEY, or CHANJING_ACCESS_TOKEN, or CHANJING_ACCESS_TOKEN_FILE")
        }
    }

    private func nonBlankEnvironment(_ name: String) -> String? {
        guard let value = environment[name]?.trimmingCharacters(in: .whitespacesAndNewlines), !value.isEmpty else { return nil }
        return value
    }

    // MARK: Kafka properties

    /// `KAFKA_PROP_*` variables first, then `--kafka` flags (which win).
    func kafkaProperties() throws(ConfigurationError) -> KafkaProperties {
        try Self.kafkaProperties(environment: environment, flags: options.kafka)
    }

    /// librdkafka properties from `KAFKA_PROP_*` variables, then `--kafka key=value` flags (which
    /// win), for the worker and the command-line tools alike.
    static func kafkaProperties(environment: [String: String], flags: [String]) throws(ConfigurationError) -> KafkaProperties {
        var properties = KafkaProperties()
        for (name, value) in environment.sorted(by: { $0.key < $1.key }) where name.hasPrefix("KAFKA_PROP_") {
            let key = name.dropFirst("KAFKA_PROP_".count).lowercased().replacingOccurrences(of: "_", with: ".")
            guard !key.isEmpty else { throw ConfigurationError("\(name) names no property") }
            try add(key, value, from: name, to: &properties)
        }
        for pair in flags {
            guard let equals = pair.firstIndex(of: "="), equals != pair.startIndex else {
                throw ConfigurationError("--kafka expects key=value, got '\(pair.prefix(while: { $0 != "=" }))'")
            }
            try add(String(pair[..<equals]).trimmingCharacters(in: .whitespaces), String(pair[pair.index(after: equals)...]), from: "--kafka", to: &properties)
        }
        return properties
    }

    private static func add(_ key: String, _ value: String, from source: String, to properties: inout KafkaProperties) throws(ConfigurationError) {
        guard !WorkerConfiguration.protectedKafkaProperties.contains(key) else {
            throw ConfigurationError("\(source) may not set '\(key)': the worker's at-least-once delivery depends on its own value")
        }
        if key == "bootstrap.servers" {
            throw ConfigurationError("\(source) may not set 'bootstrap.servers': use --brokers (KAFKA_BROKERS)")
        }
        properties[key] = value
    }

    // MARK: Values

    private func env(_ flag: String) -> String { OptionCatalog.entry(flag).environment }

    /// The flag's value, else its environment variable's, else its default.
    func value(_ flag: String) -> String {
        Self.value(flag, given: options.commandLineValue(flag), environment: environment)
    }

    /// `given` (the flag's value), else the flag's environment variable, else its catalogued
    /// default: the precedence every command shares.
    static func value(_ flag: String, given: String?, environment: [String: String]) -> String {
        if let given { return given }
        let entry = OptionCatalog.entry(flag)
        if let fromEnvironment = environment[entry.environment], !fromEnvironment.isEmpty { return fromEnvironment }
        return entry.defaultValue
    }

    private func nonEmpty(_ flag: String) throws(ConfigurationError) -> String {
        let text = value(flag).trimmingCharacters(in: .whitespaces)
        guard !text.isEmpty else { throw ConfigurationError("\(flag) (\(env(flag))) must not be empty") }
        return text
    }

    private func integer(_ flag: String, minimum: Int, maximum: Int = .max) throws(ConfigurationError) -> Int {
        let text = value(flag)
        guard let number = Int(text.trimmingCharacters(in: .whitespaces)), number >= minimum, number <= maximum else {
            let range = maximum == .max ? "of at least \(minimum)" : "from \(minimum) to \(maximum)"
            throw ConfigurationError("invalid \(flag) '\(text)' (\(env(flag))): expected a whole number \(range)")
        }
        return number
    }

    /// `--ledger-memory`: bytes, or a whole number with a binary unit as Kubernetes writes them
    /// (`Ki`, `Mi`, `Gi`; `KiB`, `MiB`, `GiB` too).
    private func memoryLimit() throws(ConfigurationError) -> LedgerMemoryLimit {
        let text = value("--ledger-memory").trimmingCharacters(in: .whitespaces)
        let units: [(suffix: String, shift: Int)] = [("KiB", 10), ("MiB", 20), ("GiB", 30), ("Ki", 10), ("Mi", 20), ("Gi", 30), ("", 0)]
        let unit = units.first { text.hasSuffix($0.suffix) }!
        guard let number = Int(text.dropLast(unit.suffix.count)), number > 0, number < (1 << (62 - unit.shift)),
            let limit = LedgerMemoryLimit(bytes: number << unit.shift)
        else {
            throw ConfigurationError(
                "invalid --ledger-memory '\(text)' (\(env("--ledger-memory"))): expected bytes, or a whole number of Ki, Mi or Gi, of at least 16Mi"
            )
        }
        return limit
    }

    private func seconds(_ flag: String) throws(ConfigurationError) -> Duration {
        let text = value(flag)
        guard let number = Double(text.trimmingCharacters(in: .whitespaces)), number.isFinite, number > 0, number < 86_400 * 365 else {
            throw ConfigurationError("invalid \(flag) '\(text)' (\(env(flag))): expected a positive number of seconds")
        }
        return .milliseconds(Int64((number * 1000).rounded()))
    }

    private func ordering() throws(ConfigurationError) -> WorkerConfiguration.Ordering {
        let text = value("--ordering")
        guard let ordering = WorkerConfiguration.Ordering(rawValue: text.lowercased()) else {
            throw ConfigurationError("invalid --ordering '\(text)' (\(env("--ordering"))): use none or key")
        }
        return ordering
    }

    /// A positive rate, or nil when the setting is empty (no limit).
    private func rate(_ flag: String) throws(ConfigurationError) -> Double? {
        let text = value(flag).trimmingCharacters(in: .whitespaces)
        guard !text.isEmpty else { return nil }
        guard let number = Double(text), number.isFinite, number > 0 else {
            throw ConfigurationError("invalid \(flag) '\(text)' (\(env(flag))): expected a positive number of calls per second")
        }
        return number
    }

    private func url(_ flag: String) throws(ConfigurationError) -> String {
        let text = value(flag).trimmingCharacters(in: .whitespaces)
        let lower = text.lowercased()
        guard lower.hasPrefix("http://") || lower.hasPrefix("https://"), text.count > 8 else {
            throw ConfigurationError("invalid \(flag) '\(text)' (\(env(flag))): expected an http:// or https:// URL")
        }
        return text
    }
}
