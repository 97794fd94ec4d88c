import Crdkafka

/// librdkafka's admin API, as ``ClusterInspector`` uses it.
enum RDKafkaAdmin {
    /// Blocks: one metadata request for a broker's id, then one `DescribeConfigs` to it for
    /// `topics`. Returns every configuration entry the broker reports with a value, by topic
    /// name, or the first error, including a per-topic one.
    static func describeTopicConfigs(_ topics: [String], client: RDKafkaClient, timeout: Duration) -> Result<[String: [String: String]], KafkaError> {
        var metadata: UnsafePointer<rd_kafka_metadata>?
        let err = rd_kafka_metadata(client.pointer, 0, nil, &metadata, timeout.milliseconds)
        guard err == RD_KAFKA_RESP_ERR_NO_ERROR, let metadata else { return .failure(KafkaError(err)) }
        let broker = metadata.pointee.broker_cnt > 0 ? metadata.pointee.brokers[0].id : -1
        rd_kafka_metadata_destroy(metadata)
        guard broker >= 0 else { return .failure(KafkaError(RD_KAFKA_RESP_ERR__TRANSPORT, message: "the cluster's metadata names no broker")) }

        var errstr = [CChar](repeating: 0, count: 512)
        let options = rd_kafka_AdminOptions_new(client.pointer, RD_KAFKA_ADMIN_OP_DESCRIBECONFIGS)
        defer { rd_kafka_AdminOptions_destroy(options) }
        _ = rd_kafka_AdminOptions_set_request_timeout(options, Int32(clamping: timeout.milliseconds), &errstr, errstr.count)
        _ = rd_kafka_AdminOptions_set_broker(options, broker, &errstr, errstr.count)
        var resources: [OpaquePointer?] = topics.map { rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_TOPIC, $0) }
        defer { resources.forEach { rd_kafka_ConfigResource_destroy($0) } }
        let queue = rd_kafka_queue_new(client.pointer)
        defer { rd_kafka_queue_destroy(queue) }
        rd_kafka_DescribeConfigs(client.pointer, &resources, resources.count, options, queue)

        guard let event = rd_kafka_queue_poll(queue, Int32(clamping: timeout.milliseconds)) else {
            return .failure(KafkaError(RD_KAFKA_RESP_ERR__TIMED_OUT))
        }
        defer { rd_kafka_event_destroy(event) }
        let eventError = rd_kafka_event_error(event)
        guard eventError == RD_KAFKA_RESP_ERR_NO_ERROR else {
            return .failure(KafkaError(eventError, message: rd_kafka_event_error_string(event).map { String(cString: $0) }))
        }
        guard let result = rd_kafka_event_DescribeConfigs_result(event) else {
            return .failure(.client("librdkafka returned no DescribeConfigs result"))
        }
        var count = 0
        guard let described = rd_kafka_DescribeConfigs_result_resources(result, &count) else { return .success([:]) }
        var configurations: [String: [String: String]] = [:]
        for resource in UnsafeBufferPointer(start: described, count: count) {
            let name = String(cString: rd_kafka_ConfigResource_name(resource))
            let resourceError = rd_kafka_ConfigResource_error(resource)
            guard resourceError == RD_KAFKA_RESP_ERR_NO_ERROR else {
                let text = rd_kafka_ConfigResource_error_string(resource).map { String(cString: $0) } ?? String(cString: rd_kafka_err2str(resourceError))
                return .failure(KafkaError(resourceError, message: "cannot describe the topic '\(name)': \(text)"))
            }
            var entryCount = 0
            var entries: [String: String] = [:]
            if let configs = rd_kafka_ConfigResource_configs(resource, &entryCount) {
                for entry in UnsafeBufferPointer(start: configs, count: entryCount) {
                    guard let value = rd_kafka_ConfigEntry_value(entry) else { continue }  // sensitive or unset
                    entries[String(cString: rd_kafka_ConfigEntry_name(entry))] = String(cString: value)
                }
            }
            configurations[name] = entries
        }
        return .success(configurations)
    }
}
