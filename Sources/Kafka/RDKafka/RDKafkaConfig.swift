import Crdkafka

/// Builds an `rd_kafka_conf_t` from properties.
enum RDKafkaConfig {
    static func make(_ properties: KafkaProperties) throws(KafkaError) -> OpaquePointer {
        guard let conf = rd_kafka_conf_new() else { throw KafkaError.client("cannot allocate a Kafka configuration") }
        var errstr = [CChar](repeating: 0, count: 512)
        for (key, value) in properties.values.sorted(by: { $0.key < $1.key }) {
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
}
