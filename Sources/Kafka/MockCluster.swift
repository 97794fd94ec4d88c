import Logging

/// An in-process Kafka cluster from librdkafka's mock broker (`rdkafka_mock.h`): real Kafka
/// protocol over TCP on loopback, for the demo, staging and tests. All state is lost when it is
/// shut down.
public final class MockCluster: Sendable {
    private let cluster: RDKafkaMockCluster
    /// The `bootstrap.servers` string for clients of this cluster.
    public let bootstrapServers: String

    /// Starts a cluster of `brokers` brokers on ephemeral loopback ports.
    public init(brokers: Int = 1, logger: Logger) throws(KafkaError) {
        let cluster = try RDKafkaMockCluster(brokers: brokers, logger: logger)
        self.cluster = cluster
        self.bootstrapServers = cluster.bootstrapServers
    }

    /// Creates a topic. Producing to or asking metadata of an unknown topic would auto-create it
    /// with default settings; tests and the demo create theirs explicitly.
    public func createTopic(_ name: String, partitions: Int, replicationFactor: Int = 1) throws(KafkaError) {
        try cluster.createTopic(name, partitions: partitions, replicationFactor: replicationFactor)
    }

    /// Takes broker `id` (1-based) down or brings it back up.
    public func setBroker(_ id: Int32, up: Bool) {
        cluster.setBroker(id, up: up)
    }

    /// Delays every response of broker `id` (1-based) by `roundTrip`, as a distant or loaded
    /// broker would; `.zero` restores prompt answers.
    public func setRoundTripTime(broker id: Int32, _ roundTrip: Duration) {
        cluster.setRoundTripTime(broker: id, roundTrip)
    }

    /// Makes the next `count` requests of API `apiKey` (e.g. 0 = Produce, 1 = Fetch,
    /// 8 = OffsetCommit) fail with Kafka error code `errorCode`.
    public func injectErrors(apiKey: Int16, errorCode: Int32, count: Int) {
        cluster.pushRequestErrors(apiKey: apiKey, errorCode: errorCode, count: count)
    }

    /// Moves the leadership of a partition to broker `brokerID`.
    public func setLeader(topic: String, partition: Int32, brokerID: Int32) {
        cluster.setLeader(topic: topic, partition: partition, brokerID: brokerID)
    }

    /// Stops the brokers and frees the cluster. Call once, after every client of it is closed.
    public func shutdown() async {
        await BlockingThread.run(name: "kafka-mock-stop") { [cluster] in
            cluster.destroy()
        }
    }
}
