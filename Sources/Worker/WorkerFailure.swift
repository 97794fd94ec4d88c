import Kafka
import Ledger

/// Why the worker stopped on its own. Each one is a single line for the operator.
public enum WorkerFailure: Error, Sendable, CustomStringConvertible {
    /// The Kafka cluster did not answer at start-up.
    case kafkaUnreachable(brokers: String, timeout: Duration, KafkaError)
    /// A topic the worker needs does not exist.
    case missingTopic(role: String, topic: String, brokers: String)
    /// The Kafka client could not be created (usually a bad `--kafka` property).
    case kafkaClient(KafkaError)
    /// The Chanjing client could not be created.
    case chanjingClient(String)
    /// The results producer raised a fatal error; unacknowledged work is left uncommitted.
    case producerFailed(KafkaError)
    /// The consumer raised a fatal error.
    case consumerFailed(String)
    /// The submission ledger cannot be read or written; requests wait uncommitted.
    case ledgerUnavailable(String)
    /// The ledger topic is missing or does not match the requests topic.
    case ledgerTopicMismatch(String)
    /// Task tracking was asked for without the ledger, which holds the tasks being followed.
    case trackingWithoutLedger
    /// The status server's port is taken (by another worker on this host, usually).
    case httpPortInUse(port: Int, reason: String)

    init(_ error: LedgerError) {
        switch error {
        case .unavailable(let detail): self = .ledgerUnavailable(detail)
        case .producerFailed(let error): self = .producerFailed(error)
        }
    }

    /// True when the configuration must change before a restart can help.
    public var isConfiguration: Bool {
        switch self {
        case .httpPortInUse, .trackingWithoutLedger: true
        default: false
        }
    }

    public var description: String {
        switch self {
        case .kafkaUnreachable(let brokers, let timeout, let error):
            "cannot reach the Kafka cluster at \(brokers) within \(timeout) (\(error)); check --brokers and the security settings"
        case .missingTopic(let role, let topic, let brokers):
            "the \(role) topic '\(topic)' does not exist on the cluster at \(brokers); create it first (the worker never creates topics)"
                + (role == "ledger" ? ", with the requests topic's partition count, or run with --ledger off (duplicate submits become possible)" : "")
                + (role == "coordination" ? ", with one partition: workers with app credentials agree on the pool's access token through it" : "")
                + (role == "completions" ? ", or run with --track off (no completion records; follow the tasks your own way)" : "")
        case .kafkaClient(let error):
            "cannot create the Kafka client: \(error)"
        case .chanjingClient(let detail):
            "cannot create the Chanjing client: \(detail)"
        case .producerFailed(let error):
            "the results producer failed fatally (\(error)); stopping without committing unacknowledged requests"
        case .consumerFailed(let detail):
            "the requests consumer failed fatally: \(detail)"
        case .ledgerUnavailable(let detail):
            "the submission ledger is unavailable: \(detail)"
        case .ledgerTopicMismatch(let detail):
            detail
        case .trackingWithoutLedger:
            "task tracking needs the submission ledger, which holds the tasks being followed: run with --ledger on, or --track off"
        case .httpPortInUse(let port, let reason):
            "cannot serve /metrics, /healthz and /readyz on port \(port) (\(reason)): give each worker on a host its own --http-port (HTTP_PORT), or 0 for any free port"
        }
    }
}
