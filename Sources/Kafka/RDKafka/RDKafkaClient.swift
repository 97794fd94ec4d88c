import Crdkafka
import Logging

/// Owns one `rd_kafka_t` handle and the context its C callbacks reach through the opaque pointer.
// @unchecked: rd_kafka_t is thread-safe for the calls made through it; the pointer never changes.
final class RDKafkaClient: @unchecked Sendable {
    enum Kind {
        case producer
        case consumer
    }

    let pointer: OpaquePointer
    /// Also retained by the handle itself (its opaque pointer) until ``destroy()``, so that its
    /// callbacks never reach a freed context, whoever still holds this object.
    let context: CallbackContext

    private init(pointer: OpaquePointer, context: CallbackContext) {
        self.pointer = pointer
        self.context = context
    }

    /// Creates a handle. `configure` may install further callbacks on the configuration.
    static func make(
        _ kind: Kind,
        properties: KafkaProperties,
        context: CallbackContext,
        configure: (OpaquePointer) -> Void = { _ in }
    ) throws(KafkaError) -> RDKafkaClient {
        let conf = try RDKafkaConfig.make(properties, for: kind)
        let opaque = Unmanaged.passRetained(context)
        rd_kafka_conf_set_opaque(conf, opaque.toOpaque())
        rd_kafka_conf_set_log_cb(conf, logCallback)
        rd_kafka_conf_set_error_cb(conf, errorCallback)
        configure(conf)

        var errstr = [CChar](repeating: 0, count: 512)
        let type = kind == .producer ? RD_KAFKA_PRODUCER : RD_KAFKA_CONSUMER
        // On success rd_kafka_new takes ownership of conf; on failure the caller keeps it.
        guard let handle = rd_kafka_new(type, conf, &errstr, errstr.count) else {
            rd_kafka_conf_destroy(conf)
            opaque.release()
            throw KafkaError.client("cannot create a Kafka client: \(errorText(errstr))")
        }
        return RDKafkaClient(pointer: handle, context: context)
    }

    /// Destroys the handle. Blocks until librdkafka's threads have stopped; call it once, last.
    func destroy() {
        rd_kafka_destroy(pointer)
        // No callback can come any more: the handle's reference to the context goes.
        Unmanaged.passUnretained(context).release()
    }

    /// The client's fatal error, when librdkafka has raised one (idempotent producer trouble,
    /// a fenced static member).
    func fatalError() -> KafkaError? {
        Self.fatalError(of: pointer)
    }

    /// The fatal error of the client behind `rk`, if it has one.
    static func fatalError(of rk: OpaquePointer) -> KafkaError? {
        var errstr = [CChar](repeating: 0, count: 512)
        let err = rd_kafka_fatal_error(rk, &errstr, errstr.count)
        guard err != RD_KAFKA_RESP_ERR_NO_ERROR else { return nil }
        return KafkaError(err, message: errorText(errstr))
    }
}
