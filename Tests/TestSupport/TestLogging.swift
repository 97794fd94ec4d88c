import Foundation
import Logging
import Synchronization

/// Loggers for tests: quiet by default (`TEST_LOG_LEVEL=debug swift test` to see everything),
/// and a capturing variant to assert on what was logged.
public enum TestLogging {
    public static func logger(_ label: String = "test") -> Logger {
        var logger = Logger(label: label)
        logger.logLevel = ProcessInfo.level
        return logger
    }

    /// A logger at `level` whose every line (with metadata) is kept in `sink`.
    public static func capturing(_ sink: LogSink, level: Logger.Level = .trace) -> Logger {
        var logger = Logger(label: "captured") { _ in CapturingHandler(sink: sink) }
        logger.logLevel = level
        return logger
    }
}

/// Collects log lines.
public final class LogSink: Sendable {
    private let lines = Mutex<[String]>([])
    public init() {}
    public var all: [String] { lines.withLock { $0 } }
    func append(_ line: String) { lines.withLock { $0.append(line) } }
}

struct CapturingHandler: LogHandler {
    let sink: LogSink
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .trace

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        let merged = metadata.merging(event.metadata ?? [:]) { $1 }
        sink.append("\(event.level) \(event.message) \(merged)")
    }
}

extension ProcessInfo {
    fileprivate static var level: Logger.Level {
        processInfo.environment["TEST_LOG_LEVEL"].flatMap(Logger.Level.init(rawValue:)) ?? .critical
    }
}
