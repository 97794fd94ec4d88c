import Kafka

/// Why the ledger cannot answer or record: the worker stops rather than submit blind, and its
/// requests stay uncommitted, to be redelivered.
public enum LedgerError: Error, Sendable, CustomStringConvertible {
    /// A ledger partition cannot be read or written.
    case unavailable(String)
    /// The producer the ledger writes through raised a fatal error.
    case producerFailed(KafkaError)

    public var description: String {
        switch self {
        case .unavailable(let detail): detail
        case .producerFailed(let error): "the producer failed: \(error)"
        }
    }
}
