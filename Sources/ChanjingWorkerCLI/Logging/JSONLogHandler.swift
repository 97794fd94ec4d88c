import Foundation
import Logging
import Synchronization

/// A swift-log handler writing one JSON object per line to standard error: `timestamp`,
/// `level`, `logger`, `message`, then every metadata field at the top level (`request_id`,
/// `partition`, `offset`, `creation_id`, `traceparent` …), so log pipelines can index them.
struct JSONLogHandler: LogHandler {
    let label: String
    var logLevel: Logger.Level = .info
    var metadata: Logger.Metadata = [:]
    var metadataProvider: Logger.MetadataProvider?
    /// Lines from concurrent tasks must not interleave.
    private static let output = Mutex(FileHandle.standardError)

    init(label: String) {
        self.label = label
    }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        var merged = metadata
        if let provided = metadataProvider?.get() { merged.merge(provided) { $1 } }
        if let extra = event.metadata { merged.merge(extra) { $1 } }
        let line = Self.line(
            timestamp: Date(), level: event.level, label: label, message: "\(event.message)", metadata: merged
        )
        Self.output.withLock { $0.write(Data(line.utf8)) }
    }

    /// The JSON line for one event. Reserved keys win over metadata of the same name.
    static func line(timestamp: Date, level: Logger.Level, label: String, message: String, metadata: Logger.Metadata) -> String {
        var object: [String: Any] = metadata.mapValues(Self.json)
        object["timestamp"] = timestamp.formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true))
        object["level"] = level.rawValue
        object["logger"] = label
        object["message"] = message
        // Keys sorted for stable lines; every value is a string, array or object of strings.
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data()
        return String(decoding: data, as: UTF8.self) + "\n"
    }

    private static func json(_ value: Logger.Metadata.Value) -> Any {
        switch value {
        case .string(let text): text
        case .stringConvertible(let convertible): convertible.description
        case .array(let values): values.map(json)
        case .dictionary(let values): values.mapValues(json)
        }
    }
}
