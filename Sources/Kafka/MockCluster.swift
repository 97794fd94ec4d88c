import Crdkafka
import Logging

/// An in-process Kafka cluster from librdkafka's mock broker (`rdkafka_mock.h`): real Kafka
/// protocol over TCP on loopback, for the demo, staging and tests. All state is lost when it is
/// shut down.
// @unchecked: the mock cluster's API is thread-safe (it forwards every call to its own thread).
public final class MockCluster: @unchecked Sendable {
    private let host: RDKafkaClient
    private let cluster: OpaquePointer
    /// The `bootstrap.servers` string for clients of this cluster.
    public let bootstrapServers: String

    /// Starts a cluster of `brokers` brokers on ephemeral loopback ports.
    public init(brokers: Int = 1, logger: Logger) throws(KafkaError) {
        // The mock cluster lives inside a client handle that does nothing else. Its brokers'
        // sockets take that handle's `socket.nagle.disable`: real Kafka brokers set TCP_NODELAY,
        // and without it a response can wait ~40 ms for a delayed ACK (about 1% of the ledger's
        // round trips in benchmark scenario 1).
        let host = try RDKafkaClient.make(
            .producer, properties: KafkaProperties(["log_level": "3", "socket.nagle.disable": "true"]), context: CallbackContext(logger: logger)
        )
        guard let cluster = rd_kafka_mock_cluster_new(host.pointer, Int32(brokers)) else {
            host.destroy()
            throw KafkaError.client("cannot start a mock Kafka cluster")
        }
        self.host = host
        self.cluster = cluster
        self.bootstrapServers = String(cString: rd_kafka_mock_cluster_bootstraps(cluster))
    }

    /// Creates a topic. Producing to or asking metadata of an unknown topic would auto-create it
    /// with default settings; tests and the demo create theirs explicitly.
    public func createTopic(_ name: String, partitions: Int, replicationFactor: Int = 1) throws(KafkaError) {
        let err = rd_kafka_mock_topic_create(cluster, name, Int32(partitions), Int32(replicationFactor))
        guard err == RD_KAFKA_RESP_ERR_NO_ERROR else {
            throw KafkaError(err, message: "cannot create topic \(name): \(String(cString: rd_kafka_err2str(err)))")
        }
    }

    /// Takes broker `id` (1-based) down or brings it back up.
    public func setBroker(_ id: Int32, up: Bool) {
        if up {
            _ = rd_kafka_mock_broker_set_up(cluster, id)
        } else {
            _ = rd_kafka_mock_broker_set_down(cluster, id)
        }
    }

    /// Delays every response of broker `id` (1-based) by `roundTrip`, as a distant or loaded
    /// broker would; `.zero` restores prompt answers.
    public func setRoundTripTime(broker id: Int32, _ roundTrip: Duration) {
        _ = rd_kafka_mock_broker_set_rtt(cluster, id, Int32(roundTrip / .milliseconds(1)))
    }

    /// Makes the next `count` requests of API `apiKey` (e.g. 0 = Produce, 1 = Fetch,
    /// 8 = OffsetCommit) fail with Kafka error code `errorCode`.
    public func injectErrors(apiKey: Int16, errorCode: Int32, count: Int) {
        let errors = [rd_kafka_resp_err_t](repeating: rd_kafka_resp_err_t(rawValue: errorCode), count: count)
        errors.withUnsafeBufferPointer { buffer in
            rd_kafka_mock_push_request_errors_array(cluster, apiKey, buffer.count, buffer.baseAddress)
        }
    }

    /// Moves the leadership of a partition to broker `brokerID`.
    public func setLeader(topic: String, partition: Int32, brokerID: Int32) {
        _ = rd_kafka_mock_partition_set_leader(cluster, topic, partition, brokerID)
    }

    /// Stops the brokers and frees the cluster. Call once, after every client of it is closed.
    public func shutdown() async {
        await BlockingThread.run(name: "kafka-mock-shutdown") { [self] in
            rd_kafka_mock_cluster_destroy(cluster)
            host.destroy()
        }
    }
}
