import Logging
import Synchronization

/// How log lines are written to standard error.
public enum LogFormat: String, Sendable {
    /// swift-log's human-readable lines.
    case text
    /// One JSON object per line, for log pipelines.
    case json
}

/// Configures swift-log once per process.
enum LogSetup {
    private static let done = Mutex(false)

    static func bootstrap(level: Logger.Level, format: LogFormat = .text) {
        let first = done.withLock { done -> Bool in
            defer { done = true }
            return !done
        }
        guard first else { return }
        LoggingSystem.bootstrap { label in
            var handler: any LogHandler =
                switch format {
                case .text: StreamLogHandler.standardError(label: label)
                case .json: JSONLogHandler(label: label)
                }
            handler.logLevel = level
            return handler
        }
    }
}
