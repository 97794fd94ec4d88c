import Crdkafka

/// Builds an `rd_kafka_conf_t` from properties.
enum RDKafkaConfig {
    /// Builds the configuration of a `kind` client. Properties librdkafka reads only in the other
    /// kind of client are left out: users give one set to the worker (`--kafka`), and each one
    /// given to the wrong client prints a CONFWARN line at every start.
    static func make(_ properties: KafkaProperties, for kind: RDKafkaClient.Kind) throws(KafkaError) -> OpaquePointer {
        guard let conf = rd_kafka_conf_new() else { throw KafkaError.client("cannot allocate a Kafka configuration") }
        var errstr = [CChar](repeating: 0, count: 512)
        let otherKinds = kind == .producer ? consumerOnly : producerOnly
        for (key, value) in properties.values.sorted(by: { $0.key < $1.key }) where !otherKinds.contains(key) {
            let result = rd_kafka_conf_set(conf, key, value, &errstr, errstr.count)
            guard result == RD_KAFKA_CONF_OK else {
                rd_kafka_conf_destroy(conf)
                // librdkafka's message can quote the value, which must not leak for secrets.
                let detail = KafkaProperties.isSecret(key) ? "the value was refused" : errorText(errstr)
                let kind = result == RD_KAFKA_CONF_UNKNOWN ? "unknown Kafka property" : "invalid Kafka property"
                throw KafkaError(RD_KAFKA_RESP_ERR__INVALID_ARG, message: "\(kind) \(key): \(detail)")
            }
        }
        return conf
    }

    /// The properties librdkafka 2.0.2 reads only in consumers (`C` in its CONFIGURATION.md).
    static let consumerOnly: Set<String> = [
        "auto.commit.enable", "auto.commit.interval.ms", "auto.offset.reset", "check.crcs", "consume.callback.max.messages",
        "consume_cb", "coordinator.query.interval.ms", "enable.auto.commit", "enable.auto.offset.store", "enable.partition.eof",
        "fetch.error.backoff.ms", "fetch.max.bytes", "fetch.message.max.bytes", "fetch.min.bytes", "fetch.wait.max.ms", "group.id",
        "group.instance.id", "group.protocol.type", "heartbeat.interval.ms", "isolation.level", "max.partition.fetch.bytes",
        "max.poll.interval.ms", "offset.store.method", "offset.store.path", "offset.store.sync.interval.ms", "offset_commit_cb",
        "partition.assignment.strategy", "queued.max.messages.kbytes", "queued.min.messages", "rebalance_cb", "session.timeout.ms",
    ]

    /// The properties librdkafka 2.0.2 reads only in producers (`P` in its CONFIGURATION.md).
    static let producerOnly: Set<String> = [
        "acks", "batch.num.messages", "batch.size", "compression.codec", "compression.level", "compression.type",
        "delivery.report.only.error", "delivery.timeout.ms", "dr_cb", "dr_msg_cb", "enable.gapless.guarantee", "enable.idempotence",
        "linger.ms", "message.send.max.retries", "message.timeout.ms", "msg_order_cmp", "partitioner", "partitioner_cb",
        "produce.offset.report", "queue.buffering.backpressure.threshold", "queue.buffering.max.kbytes",
        "queue.buffering.max.messages", "queue.buffering.max.ms", "queuing.strategy", "request.required.acks", "request.timeout.ms",
        "retries", "retry.backoff.ms", "sticky.partitioning.linger.ms", "transaction.timeout.ms", "transactional.id",
    ]
}
