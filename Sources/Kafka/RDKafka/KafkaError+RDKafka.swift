import Crdkafka

/// librdkafka's error codes translated into ``KafkaError``, and the codes its `is…` properties
/// test for, so that the Swift type itself needs no C.
extension KafkaError {
    init(_ err: rd_kafka_resp_err_t, message: String? = nil) {
        self.init(code: err.rawValue, name: String(cString: rd_kafka_err2name(err)), message: message ?? String(cString: rd_kafka_err2str(err)))
    }

    /// An error raised by this layer rather than by librdkafka (code `_FAIL`).
    static func client(_ message: String) -> KafkaError {
        KafkaError(RD_KAFKA_RESP_ERR__FAIL, message: message)
    }

    /// No answer in time (code `_TIMED_OUT`).
    static func timedOut(_ message: String) -> KafkaError {
        KafkaError(RD_KAFKA_RESP_ERR__TIMED_OUT, message: message)
    }

    /// No such topic or partition (code `UNKNOWN_TOPIC_OR_PART`).
    static func unknownTopicOrPartition(_ message: String) -> KafkaError {
        KafkaError(RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART, message: message)
    }

    /// The client is being destroyed (code `_DESTROY`).
    static func destroyed(_ message: String) -> KafkaError {
        KafkaError(RD_KAFKA_RESP_ERR__DESTROY, message: message)
    }

    static let queueFullCode = RD_KAFKA_RESP_ERR__QUEUE_FULL.rawValue
    static let producerClosedCodes = [RD_KAFKA_RESP_ERR__DESTROY, RD_KAFKA_RESP_ERR__PURGE_QUEUE, RD_KAFKA_RESP_ERR__PURGE_INFLIGHT].map(\.rawValue)
    static let staleAssignmentCode = RD_KAFKA_RESP_ERR__STATE.rawValue
    static let unreachableCodes = [
        RD_KAFKA_RESP_ERR__TRANSPORT, RD_KAFKA_RESP_ERR__TIMED_OUT, RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN, RD_KAFKA_RESP_ERR__RESOLVE,
    ].map(\.rawValue)
}
