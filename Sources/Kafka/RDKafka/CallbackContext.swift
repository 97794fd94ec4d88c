import Crdkafka
import Logging
import Synchronization

/// What librdkafka's C callbacks for one client reach through the opaque pointer.
final class CallbackContext: Sendable {
    let logger: Logger
    /// Set for consumers; handles rebalances on the poll thread.
    let rebalance: RebalanceHandler?
    /// The first fatal error raised on this client.
    let fatal = Mutex<KafkaError?>(nil)
    /// The latest statistics emitted by librdkafka (consumers only).
    let statistics = Mutex<ConsumerStatistics?>(nil)
    /// Called once when librdkafka raises a fatal error.
    let onFatal: (@Sendable (KafkaError) -> Void)?

    init(logger: Logger, rebalance: RebalanceHandler? = nil, onFatal: (@Sendable (KafkaError) -> Void)? = nil) {
        self.logger = logger
        self.rebalance = rebalance
        self.onFatal = onFatal
    }

    static func from(_ opaque: UnsafeMutableRawPointer?) -> CallbackContext? {
        opaque.map { Unmanaged<CallbackContext>.fromOpaque($0).takeUnretainedValue() }
    }
}

/// librdkafka's log lines, routed into swift-log. Levels are syslog levels.
func logCallback(_ rk: OpaquePointer?, _ level: Int32, _ facility: UnsafePointer<CChar>?, _ buffer: UnsafePointer<CChar>?) {
    guard let rk, let context = CallbackContext.from(rd_kafka_opaque(rk)) else { return }
    let text = buffer.map { String(cString: $0) } ?? ""
    let facilityName = facility.map { String(cString: $0) } ?? ""
    let swiftLevel: Logger.Level =
        switch level {
        case ...2: .critical
        case 3: .error
        case 4: .warning
        case 5, 6: .info
        default: .debug
        }
    context.logger.log(level: swiftLevel, "\(text)", metadata: ["librdkafka.facility": "\(facilityName)"])
}

/// Client-level errors: mostly transient (brokers down), which librdkafka recovers from by
/// itself; fatal ones end the client.
func errorCallback(_ rk: OpaquePointer?, _ err: Int32, _ reason: UnsafePointer<CChar>?, _ opaque: UnsafeMutableRawPointer?) {
    guard let rk, let context = CallbackContext.from(opaque) else { return }
    let code = rd_kafka_resp_err_t(rawValue: err)
    let text = reason.map { String(cString: $0) } ?? ""
    guard code == RD_KAFKA_RESP_ERR__FATAL else {
        context.logger.warning("Kafka client error: \(text)", metadata: ["kafka.error": "\(String(cString: rd_kafka_err2name(code)))"])
        return
    }
    let error = RDKafkaClient.fatalError(of: rk) ?? KafkaError(code, message: text)
    let first = context.fatal.withLock { stored -> Bool in
        guard stored == nil else { return false }
        stored = error
        return true
    }
    context.logger.critical("Kafka client raised a fatal error: \(error)")
    if first { context.onFatal?(error) }
}

/// librdkafka's periodic statistics. Returning 0 lets librdkafka free the JSON.
func statisticsCallback(_ rk: OpaquePointer?, _ json: UnsafeMutablePointer<CChar>?, _ length: Int, _ opaque: UnsafeMutableRawPointer?) -> Int32 {
    guard let json, let context = CallbackContext.from(opaque) else { return 0 }
    let bytes = Array(UnsafeRawBufferPointer(start: json, count: length))
    if let parsed = ConsumerStatistics.parse(bytes) {
        context.statistics.withLock { $0 = parsed }
    }
    return 0
}
