import Foundation

/// The message the worker publishes on the results topic for every request it consumes.
///
/// Results are delivered at least once: consumers deduplicate by ``requestID``.
public struct VideoResult: Sendable, Codable, Equatable {
    /// How a request ended.
    public enum Status: String, Sendable, Codable, CaseIterable {
        /// Chanjing accepted the task; ``VideoResult/creationID`` names it. Says nothing yet about
        /// the finished video.
        case submitted
        /// The request itself is invalid (our validation, or Chanjing's 400/40000): retrying cannot help.
        case rejected
        /// The request was valid but not submitted: retries exhausted, credentials refused, quota or balance.
        case failed
    }

    /// Where the request was read from.
    public struct Source: Sendable, Codable, Hashable {
        public var topic: String
        public var partition: Int32
        public var offset: Int64

        public init(topic: String, partition: Int32, offset: Int64) {
            self.topic = topic
            self.partition = partition
            self.offset = offset
        }

        /// Writes the fields of this JSON object, keys sorted.
        package func write(to json: inout JSONObjectWriter) {
            json.field("offset", offset)
            json.field("partition", partition)
            json.field("topic", topic)
        }
    }

    /// What went wrong, for `rejected` and `failed` results.
    public struct ErrorDetail: Sendable, Codable, Equatable {
        public var code: ResultErrorCode
        public var message: String
        /// The request field at fault, when one is.
        public var field: String?
        /// Chanjing's own `code`, when Chanjing answered.
        public var chanjingCode: Int?

        public init(code: ResultErrorCode, message: String, field: String? = nil, chanjingCode: Int? = nil) {
            self.code = code
            self.message = message
            self.field = field
            self.chanjingCode = chanjingCode
        }

        enum CodingKeys: String, CodingKey {
            case code, message, field
            case chanjingCode = "chanjing_code"
        }

        /// Writes the fields of this detail's JSON object, keys sorted.
        package func write(to json: inout JSONObjectWriter) {
            json.field("chanjing_code", chanjingCode)
            json.field("code", code.rawValue)
            json.field("field", field)
            json.field("message", message)
        }
    }

    /// Retries made before the outcome, by kind: `safe` ones could not have created a task,
    /// `ambiguous` ones might have.
    public struct Retries: Sendable, Codable, Equatable {
        public var safe: Int
        public var ambiguous: Int

        public init(safe: Int = 0, ambiguous: Int = 0) {
            self.safe = safe
            self.ambiguous = ambiguous
        }

        /// Writes the fields of this JSON object, keys sorted.
        package func write(to json: inout JSONObjectWriter) {
            json.field("ambiguous", ambiguous)
            json.field("safe", safe)
        }
    }

    public var requestID: String
    public var status: Status
    public var creationID: String?
    public var error: ErrorDetail?
    public var source: Source
    /// Submit calls made to Chanjing (0 for a request rejected by validation).
    public var attempts: Int
    public var retries: Retries
    public var chanjingTraceID: String?
    /// When the worker produced this result, RFC 3339 in UTC.
    public var producedAt: String
    /// True when the outcome was answered from the submission ledger (nil otherwise).
    public var replayed: Bool?
    /// True when the task was found by reconciling with Chanjing's task list (nil otherwise).
    public var reconciled: Bool?

    public init(
        requestID: String,
        status: Status,
        creationID: String? = nil,
        error: ErrorDetail? = nil,
        source: Source,
        attempts: Int,
        retries: Retries = Retries(),
        chanjingTraceID: String? = nil,
        producedAt: Date = Date(),
        replayed: Bool? = nil,
        reconciled: Bool? = nil
    ) {
        self.requestID = requestID
        self.status = status
        self.creationID = creationID
        self.error = error
        self.source = source
        self.attempts = attempts
        self.retries = retries
        self.chanjingTraceID = chanjingTraceID
        self.producedAt = producedAt.formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true))
        self.replayed = replayed
        self.reconciled = reconciled
    }

    enum CodingKeys: String, CodingKey {
        case status, error, source, attempts, retries, replayed, reconciled
        case requestID = "request_id"
        case creationID = "creation_id"
        case chanjingTraceID = "chanjing_trace_id"
        case producedAt = "produced_at"
    }

    /// The result as the JSON bytes published to Kafka, keys sorted.
    ///
    /// Written field by field rather than through `JSONEncoder`, a result per request
    /// (docs/benchmarks.md, "Tried, and what it gave"). `VideoResultTests` checks
    /// it against `JSONEncoder`'s output and that every stored field is written.
    public func encoded() -> [UInt8] {
        var json = JSONObjectWriter()
        json.field("attempts", attempts)
        json.field("chanjing_trace_id", chanjingTraceID)
        json.field("creation_id", creationID)
        if let error { json.object("error", error.write) }
        json.field("produced_at", producedAt)
        json.field("reconciled", reconciled)
        json.field("replayed", replayed)
        json.field("request_id", requestID)
        json.object("retries", retries.write)
        json.object("source", source.write)
        json.field("status", status.rawValue)
        return json.finished()
    }

    /// Decodes a result published by the worker.
    public static func decode(_ bytes: [UInt8]) throws -> VideoResult {
        try JSONDecoder().decode(VideoResult.self, from: Data(bytes))
    }
}
