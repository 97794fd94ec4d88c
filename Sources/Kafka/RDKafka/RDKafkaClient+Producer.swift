import Crdkafka

/// The producer's calls: produce, serve delivery reports, flush, purge.
extension RDKafkaClient {
    /// Creates a producer handle whose delivery reports complete the ``DeliveryBox`` each record
    /// carries.
    static func makeProducer(properties: KafkaProperties, context: CallbackContext) throws(KafkaError) -> RDKafkaClient {
        try make(.producer, properties: properties, context: context) { conf in
            rd_kafka_conf_set_dr_msg_cb(conf, deliveryReportCallback)
        }
    }

    /// Serves queued callbacks (delivery reports, errors, logs), waiting up to `timeout` for one.
    func poll(timeout: Duration) {
        rd_kafka_poll(pointer, timeout.milliseconds)
    }

    /// A handle of the queue ``poll(timeout:)`` serves, for a ``PollStop``.
    func mainQueue() -> OpaquePointer? {
        rd_kafka_queue_get_main(pointer)
    }

    /// Hands the message to librdkafka; returns the error when it was not accepted. On success
    /// librdkafka holds `box` until its delivery report (``deliveryReportCallback``) takes it.
    func produce(_ message: OutgoingMessage, box: DeliveryBox) -> KafkaError? {
        let headers: OpaquePointer? = message.headers.isEmpty ? nil : rd_kafka_headers_new(message.headers.count)
        for header in message.headers {
            if let value = header.value {
                value.withUnsafeBytes { _ = rd_kafka_header_add(headers, header.name, -1, $0.baseAddress, $0.count) }
            } else {
                _ = rd_kafka_header_add(headers, header.name, -1, nil, 0)
            }
        }
        let opaque = Unmanaged.passRetained(box).toOpaque()
        let err = message.value.withUnsafeBytes { value in
            withOptionalBytes(message.key) { key in
                crdkafka_produce(
                    pointer,
                    message.topic,
                    message.partition ?? RD_KAFKA_PARTITION_UA,
                    key?.baseAddress, key?.count ?? 0,
                    value.baseAddress, value.count,
                    headers,
                    opaque
                )
            }
        }
        guard err != RD_KAFKA_RESP_ERR_NO_ERROR else { return nil }
        // Not accepted: librdkafka took ownership of neither the headers nor the box.
        if let headers { rd_kafka_headers_destroy(headers) }
        Unmanaged<DeliveryBox>.fromOpaque(opaque).release()
        return KafkaError(err)
    }

    /// Blocks: asks the cluster for the metadata of `topic`, so that librdkafka knows it before
    /// the first record for it. Returns the error when there is no answer within `timeout`.
    func fetchMetadata(of topic: String, timeout: Duration) -> KafkaError? {
        let handle = rd_kafka_topic_new(pointer, topic, nil)
        defer { rd_kafka_topic_destroy(handle) }
        var metadata: UnsafePointer<rd_kafka_metadata>?
        let err = rd_kafka_metadata(pointer, 0, handle, &metadata, timeout.milliseconds)
        if let metadata { rd_kafka_metadata_destroy(metadata) }
        return err == RD_KAFKA_RESP_ERR_NO_ERROR ? nil : KafkaError(err)
    }

    /// Blocks: waits up to `timeout` for every queued record to be delivered; returns false when
    /// some were still outstanding.
    func flush(timeout: Duration) -> Bool {
        rd_kafka_flush(pointer, timeout.milliseconds) == RD_KAFKA_RESP_ERR_NO_ERROR
    }

    /// Drops the records still queued or in flight; their delivery reports (a purge error) come
    /// with the next ``poll(timeout:)``.
    func purge() {
        rd_kafka_purge(pointer, Int32(RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT))
    }
}

func deliveryReportCallback(_ rk: OpaquePointer?, _ message: UnsafePointer<rd_kafka_message_t>?, _ opaque: UnsafeMutableRawPointer?) {
    guard let message, let pointer = message.pointee._private else { return }
    let box = Unmanaged<DeliveryBox>.fromOpaque(pointer).takeRetainedValue()
    let record = message.pointee
    if record.err == RD_KAFKA_RESP_ERR_NO_ERROR {
        box.complete(.success(DeliveryReport(topic: box.topic, partition: record.partition, offset: record.offset)))
    } else {
        box.complete(.failure(KafkaError(record.err)))
    }
}

private func withOptionalBytes<R>(_ bytes: [UInt8]?, _ body: (UnsafeRawBufferPointer?) -> R) -> R {
    guard let bytes else { return body(nil) }
    return bytes.withUnsafeBytes { body($0) }
}
