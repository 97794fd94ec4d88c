import Chanjing
import Worker

/// Every setting of `chanjing-worker run`: flag, environment variable, default and meaning. The
/// command's help and the README's options table are both generated from here (a test keeps the
/// README in step), so the three cannot drift apart.
public enum OptionCatalog {
    public struct Entry: Sendable {
        /// The command-line flag, or nil for settings read only from the environment (secrets).
        public var flag: String?
        public var environment: String
        /// The default as shown to users; empty when there is none.
        public var defaultValue: String
        public var meaning: String
    }

    /// The worker's own defaults, which the table states rather than repeats (the command adds
    /// only the brokers' and Chanjing's addresses, which the library leaves to its caller).
    private static let worker = WorkerConfiguration(brokers: "", chanjing: .init(baseURL: ""))
    private static let ledger = LedgerSettings()
    private static let tracking = TrackingSettings()

    private static func seconds(_ duration: Duration) -> String {
        "\(duration.components.seconds)"
    }

    public static let entries: [Entry] = [
        .init(flag: "--brokers", environment: "KAFKA_BROKERS", defaultValue: "localhost:9092", meaning: "Kafka bootstrap servers, comma-separated."),
        .init(flag: "--group", environment: "KAFKA_GROUP_ID", defaultValue: worker.groupID, meaning: "Consumer group shared by the worker pool."),
        .init(flag: "--requests-topic", environment: "REQUESTS_TOPIC", defaultValue: worker.requestsTopic, meaning: "Topic the video requests are read from."),
        .init(flag: "--results-topic", environment: "RESULTS_TOPIC", defaultValue: worker.resultsTopic, meaning: "Topic the results are published to."),
        .init(flag: "--coordination-topic", environment: "COORDINATION_TOPIC", defaultValue: worker.coordinationTopic, meaning: "Topic (one partition) through which workers with app credentials agree on the pool's one access token; token records on it are encrypted with a key derived from the secret key."),
        .init(flag: "--chanjing-base-url", environment: "CHANJING_BASE_URL", defaultValue: "https://open-api.chanjing.cc", meaning: "Chanjing API base URL."),
        .init(flag: "--kafka", environment: "KAFKA_PROP_<NAME>", defaultValue: "", meaning: "Any librdkafka property as `key=value` (repeatable), for every Kafka client; `KAFKA_PROP_SASL_PASSWORD` sets `sasl.password`. Properties the delivery guarantee rests on are refused."),
        .init(flag: "--auto-offset-reset", environment: "KAFKA_AUTO_OFFSET_RESET", defaultValue: worker.autoOffsetReset, meaning: "Where a group with no committed offset starts: `earliest` or `latest`."),
        .init(flag: "--max-in-flight", environment: "MAX_IN_FLIGHT", defaultValue: "\(worker.maxInFlight)", meaning: "Requests at work at once; one writing its result, or waiting to reconcile an interrupted submit, steps aside (up to as many again are held). Also sizes the HTTP connection pool."),
        .init(flag: "--ordering", environment: "ORDERING", defaultValue: worker.ordering.rawValue, meaning: "`none`: any order; `key`: requests with the same Kafka key are submitted one after another (different keys in parallel)."),
        .init(flag: "--max-qps", environment: "MAX_QPS", defaultValue: "", meaning: "Submit calls per second for this worker; unset means no limit."),
        .init(flag: "--pool-max-qps", environment: "POOL_MAX_QPS", defaultValue: "", meaning: "Submit calls per second for the whole pool; each worker takes the share of the partitions it owns. Unset means no limit."),
        .init(flag: "--max-request-age", environment: "MAX_REQUEST_AGE", defaultValue: "", meaning: "Seconds after which a request (by its Kafka timestamp) is answered `expired` instead of submitted, so a long outage does not end in stale videos. Unset means no limit."),
        .init(flag: "--max-attempts", environment: "MAX_ATTEMPTS", defaultValue: "\(worker.retry.maxAttempts)", meaning: "Submit calls per request at most, the first included."),
        .init(flag: "--max-retry-time", environment: "MAX_RETRY_TIME", defaultValue: seconds(worker.retry.maxElapsed), meaning: "Seconds after the first call past which no retry starts."),
        .init(flag: "--connect-timeout", environment: "CHANJING_CONNECT_TIMEOUT", defaultValue: seconds(worker.chanjing.connectTimeout), meaning: "Seconds to connect to Chanjing."),
        .init(flag: "--submit-timeout", environment: "CHANJING_SUBMIT_TIMEOUT", defaultValue: seconds(worker.chanjing.requestTimeout), meaning: "Seconds for one whole Chanjing call."),
        .init(flag: "--commit-interval", environment: "COMMIT_INTERVAL", defaultValue: seconds(worker.commitInterval), meaning: "Seconds between offset commits (the redelivery window after a crash)."),
        .init(flag: "--drain-timeout", environment: "DRAIN_TIMEOUT", defaultValue: seconds(worker.drainTimeout), meaning: "Seconds shutdown and rebalances wait for requests in flight; must exceed the submit timeout."),
        .init(flag: "--startup-timeout", environment: "STARTUP_TIMEOUT", defaultValue: seconds(worker.startupTimeout), meaning: "Seconds start-up waits for the Kafka cluster to answer."),
        .init(flag: "--max-request-bytes", environment: "MAX_REQUEST_BYTES", defaultValue: "\(worker.limits.maxMessageBytes)", meaning: "Largest request message accepted, in bytes."),
        .init(flag: "--max-prompt-length", environment: "MAX_PROMPT_LENGTH", defaultValue: "\(worker.limits.maxPromptScalars)", meaning: "Most Unicode scalars in `ref_prompt`."),
        .init(flag: "--max-reference-images", environment: "MAX_REFERENCE_IMAGES", defaultValue: "\(worker.limits.maxReferenceImages)", meaning: "Most entries in `ref_img_url`."),
        .init(flag: "--ledger", environment: "LEDGER", defaultValue: "on", meaning: "`on`: the submission ledger keeps a redelivered or retried request from being submitted twice; `off`: at-least-once submits (a crash or an ambiguous failure can create and bill a task twice)."),
        .init(flag: "--ledger-topic", environment: "LEDGER_TOPIC", defaultValue: ledger.topic, meaning: "The ledger's topic; it must have the requests topic's partition count."),
        .init(flag: "--ledger-memory", environment: "LEDGER_MEMORY", defaultValue: "\(ledger.memoryLimit.bytes >> 20)Mi", meaning: "The most memory the ledger's copy of the owned partitions may take (bytes, or with Ki, Mi or Gi; at least 16Mi): half holds the newest requests in full, half the older ones compacted (read back from the ledger when they come again); past it the oldest are forgotten and submitted again if they come back. README: Ledger memory."),
        .init(flag: "--reconcile-policy", environment: "RECONCILE_POLICY", defaultValue: ledger.policy.rawValue, meaning: "For a request whose earlier submit may have created a task: `adopt-or-resubmit` (adopt a matching task from Chanjing's task list, else submit), `adopt-or-fail` (else result `failed`, `outcome_unknown`) or `resubmit` (no search)."),
        .init(flag: "--reconcile-delay", environment: "RECONCILE_DELAY", defaultValue: "", meaning: "Seconds after an interrupted submit before Chanjing's task list is searched (a dead worker's call may still land); unset means the submit timeout."),
        .init(flag: "--track", environment: "TRACK", defaultValue: "on", meaning: "`on`: every submitted task is read from Chanjing until it ends, and its completion (the video URLs, or why there is none) is published to the completions topic; `off`: results with creation IDs are all the worker gives. Needs the ledger, which holds the tasks being followed: with `--ledger off` the default is `off`."),
        .init(flag: "--completions-topic", environment: "COMPLETIONS_TOPIC", defaultValue: tracking.topic, meaning: "Topic the completions are published to, keyed like the results."),
        .init(flag: "--track-first-check", environment: "TRACK_FIRST_CHECK", defaultValue: seconds(tracking.firstCheck), meaning: "Seconds after its submit a task is first read."),
        .init(flag: "--track-interval", environment: "TRACK_INTERVAL", defaultValue: seconds(tracking.interval), meaning: "Seconds between reads of a task; tasks are read in batches of up to 50 per call, in the gaps between submits."),
        .init(flag: "--max-track-time", environment: "MAX_TRACK_TIME", defaultValue: seconds(tracking.maxTrackTime), meaning: "Seconds after its submit a task still unfinished gets an `expired` completion and is no longer followed."),
        .init(flag: "--log-level", environment: "LOG_LEVEL", defaultValue: "info", meaning: "`trace`, `debug`, `info`, `notice`, `warning`, `error` or `critical`."),
        .init(flag: "--log-format", environment: "LOG_FORMAT", defaultValue: "text", meaning: "`text`: human-readable lines; `json`: one JSON object per line (`timestamp`, `level`, `message`, and fields such as `request_id`, `partition`, `offset`, `creation_id`, `traceparent`)."),
        .init(flag: "--http-port", environment: "HTTP_PORT", defaultValue: "9464", meaning: "Port of the HTTP server for `GET /metrics` (Prometheus), `/healthz` and `/readyz`; `0` picks a free port and logs it."),
        .init(flag: nil, environment: "CHANJING_APP_ID", defaultValue: "", meaning: "Chanjing app ID; with `CHANJING_SECRET_KEY`, tokens are fetched when needed. Dedicate the app ID to the pool."),
        .init(flag: nil, environment: "CHANJING_SECRET_KEY", defaultValue: "", meaning: "Chanjing secret key. Never logged."),
        .init(flag: nil, environment: "CHANJING_ACCESS_TOKEN", defaultValue: "", meaning: "A fixed access token instead of app credentials."),
        .init(flag: nil, environment: "CHANJING_ACCESS_TOKEN_FILE", defaultValue: "", meaning: "A file holding the access token, kept fresh by something else."),
        .init(flag: "--token-file-wait", environment: "CHANJING_ACCESS_TOKEN_FILE_WAIT", defaultValue: "90", meaning: "With a token file: seconds to wait for a new token after Chanjing refuses the current one (a mounted Kubernetes Secret takes about a minute to update)."),
        .init(flag: nil, environment: "HTTPS_PROXY", defaultValue: "", meaning: "HTTP proxy for Chanjing calls, `http://host:port`."),
    ]

    /// The entry for `flag`.
    static func entry(_ flag: String) -> Entry {
        entries.first { $0.flag == flag }!
    }

    /// Help text for a flag: its meaning, environment variable and default.
    static func help(_ flag: String) -> String {
        let entry = entry(flag)
        let defaultText = entry.defaultValue.isEmpty ? "" : ", default \(entry.defaultValue)"
        return "\(entry.meaning.replacingOccurrences(of: "`", with: "")) (env \(entry.environment)\(defaultText))"
    }

    /// The Markdown table in the README.
    public static var markdownTable: String {
        var lines = ["| Flag | Environment variable | Default | Meaning |", "|---|---|---|---|"]
        for entry in entries {
            let flag = entry.flag.map { "`\($0)`" } ?? "—"
            let defaultValue = entry.defaultValue.isEmpty ? "—" : "`\(entry.defaultValue)`"
            lines.append("| \(flag) | `\(entry.environment)` | \(defaultValue) | \(entry.meaning) |")
        }
        return lines.joined(separator: "\n")
    }
}
