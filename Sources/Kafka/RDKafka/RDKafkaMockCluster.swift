import Crdkafka
import Logging

/// Owns a librdkafka mock cluster (`rd_kafka_mock_cluster_t`, from `rdkafka_mock.h`) and the
/// client handle it lives in.
// @unchecked: the mock cluster's API is thread-safe (it forwards every call to its own thread).
final class RDKafkaMockCluster: @unchecked Sendable {
    private let host: RDKafkaClient
    private let pointer: OpaquePointer
    /// The `bootstrap.servers` string for clients of this cluster.
    let bootstrapServers: String

    /// Starts a cluster of `brokers` brokers on ephemeral loopback ports.
    init(brokers: Int, logger: Logger) throws(KafkaError) {
        // The mock cluster lives inside a client handle that does nothing else. Its brokers'
        // sockets take that handle's `socket.nagle.disable`: real Kafka brokers set TCP_NODELAY,
        // and without it a response can wait ~40 ms for a delayed ACK.
        let host = try RDKafkaClient.make(
            .producer, properties: KafkaProperties(["log_level": "3", "socket.nagle.disable": "true"]), context: CallbackContext(logger: logger)
        )
        guard let pointer = rd_kafka_mock_cluster_new(host.pointer, Int32(brokers)) else {
            host.destroy()
            throw KafkaError.client("cannot start a mock Kafka cluster")
        }
        self.host = host
        self.pointer = pointer
        self.bootstrapServers = String(cString: rd_kafka_mock_cluster_bootstraps(pointer))
    }

    func createTopic(_ name: String, partitions: Int, replicationFactor: Int) throws(KafkaError) {
        let err = rd_kafka_mock_topic_create(pointer, name, Int32(partitions), Int32(replicationFactor))
        guard err == RD_KAFKA_RESP_ERR_NO_ERROR else {
            throw KafkaError(err, message: "cannot create topic \(name): \(String(cString: rd_kafka_err2str(err)))")
        }
    }

    func setBroker(_ id: Int32, up: Bool) {
        if up {
            _ = rd_kafka_mock_broker_set_up(pointer, id)
        } else {
            _ = rd_kafka_mock_broker_set_down(pointer, id)
        }
    }

    func setRoundTripTime(broker id: Int32, _ roundTrip: Duration) {
        _ = rd_kafka_mock_broker_set_rtt(pointer, id, Int32(roundTrip / .milliseconds(1)))
    }

    /// Makes the next `count` requests of API `apiKey` fail with Kafka error code `errorCode`.
    func pushRequestErrors(apiKey: Int16, errorCode: Int32, count: Int) {
        let errors = [rd_kafka_resp_err_t](repeating: rd_kafka_resp_err_t(rawValue: errorCode), count: count)
        errors.withUnsafeBufferPointer { buffer in
            rd_kafka_mock_push_request_errors_array(pointer, apiKey, buffer.count, buffer.baseAddress)
        }
    }

    func setLeader(topic: String, partition: Int32, brokerID: Int32) {
        _ = rd_kafka_mock_partition_set_leader(pointer, topic, partition, brokerID)
    }

    /// Blocks: stops the brokers, frees the cluster, then destroys its host handle. Call once.
    func destroy() {
        rd_kafka_mock_cluster_destroy(pointer)
        host.destroy()
    }
}
