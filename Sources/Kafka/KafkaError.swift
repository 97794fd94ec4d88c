import Crdkafka

/// An error reported by librdkafka or by this layer, with librdkafka's code and name kept so
/// operators can look them up.
public struct KafkaError: Error, Sendable, Equatable, CustomStringConvertible {
    /// librdkafka's `rd_kafka_resp_err_t` value (negative values are client-side errors).
    public let code: Int32
    /// librdkafka's name for the code, e.g. `_TRANSPORT` or `UNKNOWN_TOPIC_OR_PART`.
    public let name: String
    /// What happened, in librdkafka's words or ours.
    public let message: String

    public init(code: Int32, name: String, message: String) {
        self.code = code
        self.name = name
        self.message = message
    }

    init(_ err: rd_kafka_resp_err_t, message: String? = nil) {
        self.code = err.rawValue
        self.name = String(cString: rd_kafka_err2name(err))
        self.message = message ?? String(cString: rd_kafka_err2str(err))
    }

    /// An error raised by this layer rather than by librdkafka (code `_FAIL`).
    static func client(_ message: String) -> KafkaError {
        KafkaError(RD_KAFKA_RESP_ERR__FAIL, message: message)
    }

    public var description: String { "\(message) (\(name))" }

    /// The producer's local queue is full; waiting for deliveries frees room.
    public var isQueueFull: Bool { code == RD_KAFKA_RESP_ERR__QUEUE_FULL.rawValue }

    /// The producer is closing or closed: the record was purged at shutdown or refused after
    /// it. Producing again cannot help.
    public var isProducerClosed: Bool {
        [RD_KAFKA_RESP_ERR__DESTROY, RD_KAFKA_RESP_ERR__PURGE_QUEUE, RD_KAFKA_RESP_ERR__PURGE_INFLIGHT].contains { $0.rawValue == code }
    }

    /// A store or commit for a partition this member no longer owns.
    public var isStaleAssignment: Bool { code == RD_KAFKA_RESP_ERR__STATE.rawValue }

    /// The broker(s) could not be reached or did not answer in time.
    public var isUnreachable: Bool {
        [RD_KAFKA_RESP_ERR__TRANSPORT, RD_KAFKA_RESP_ERR__TIMED_OUT, RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN,
         RD_KAFKA_RESP_ERR__RESOLVE].contains { $0.rawValue == code }
    }
}
