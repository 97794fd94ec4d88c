import Foundation

/// The message the worker publishes on the completions topic once a submitted task has
/// finished rendering, failed, or been followed for longer than `--max-track-time`.
///
/// Completions are delivered at least once: consumers deduplicate by ``requestID``, as for
/// results. A request has a completion only if its result was `submitted` while tracking was on.
public struct VideoCompletion: Sendable, Codable, Equatable {
    /// How the task ended.
    public enum Status: String, Sendable, Codable, CaseIterable {
        /// Rendered: ``VideoCompletion/videoURLs`` holds at least one URL.
        case succeeded
        /// Chanjing ended the task without a video (``ErrorCode/generationFailed`` or ``ErrorCode/noOutput``).
        case failed
        /// Still unfinished after `--max-track-time`; no longer followed (``ErrorCode/trackingExpired``).
        case expired
    }

    /// The stable `error.code` values of a completion; new codes are only ever added.
    public enum ErrorCode: String, Sendable, Codable, CaseIterable {
        /// Chanjing reported the generation failed (`progress_desc` `Error` or `Fail`).
        case generationFailed = "generation_failed"
        /// Chanjing reported `Success` without any video URL.
        case noOutput = "no_output"
        /// The task was still unfinished after `--max-track-time`.
        case trackingExpired = "tracking_expired"
    }

    /// Why a task has no video, for `failed` and `expired` completions.
    public struct ErrorDetail: Sendable, Codable, Equatable {
        public var code: ErrorCode
        public var message: String
        /// Chanjing's own `err_msg`, when it gave one.
        public var chanjingMessage: String?

        public init(code: ErrorCode, message: String, chanjingMessage: String? = nil) {
            self.code = code
            self.message = message
            self.chanjingMessage = chanjingMessage
        }

        enum CodingKeys: String, CodingKey {
            case code, message
            case chanjingMessage = "chanjing_message"
        }
    }

    public var requestID: String
    public var creationID: String
    public var status: Status
    /// The rendered video's URLs (`output_url`); empty unless `succeeded`.
    public var videoURLs: [String]
    /// Chanjing's `progress_desc` when the task was last read (nil when it never answered).
    public var progressDescription: String?
    public var error: ErrorDetail?
    /// When the request's submit was answered, RFC 3339 in UTC.
    public var submittedAt: String
    /// When the worker saw the task end (or gave up following it), RFC 3339 in UTC.
    public var finishedAt: String
    /// Seconds from ``submittedAt`` to ``finishedAt``: the render time, over by at most one
    /// tracking interval (Chanjing reports no end time).
    public var renderSeconds: Double
    /// Where the request was read from.
    public var source: VideoResult.Source
    /// When the worker produced this completion, RFC 3339 in UTC.
    public var producedAt: String

    public init(
        requestID: String, creationID: String, status: Status, videoURLs: [String] = [], progressDescription: String?, error: ErrorDetail? = nil,
        submittedAt: Date, finishedAt: Date, source: VideoResult.Source, producedAt: Date = Date()
    ) {
        self.requestID = requestID
        self.creationID = creationID
        self.status = status
        self.videoURLs = videoURLs
        self.progressDescription = progressDescription
        self.error = error
        self.submittedAt = Self.timestamp(submittedAt)
        self.finishedAt = Self.timestamp(finishedAt)
        // Milliseconds are all the ledger keeps of the submit time.
        self.renderSeconds = (max(0, finishedAt.timeIntervalSince(submittedAt)) * 1000).rounded() / 1000
        self.source = source
        self.producedAt = Self.timestamp(producedAt)
    }

    enum CodingKeys: String, CodingKey {
        case status, error, source
        case requestID = "request_id"
        case creationID = "creation_id"
        case videoURLs = "video_urls"
        case progressDescription = "progress_desc"
        case submittedAt = "submitted_at"
        case finishedAt = "finished_at"
        case renderSeconds = "render_seconds"
        case producedAt = "produced_at"
    }

    /// The completion as the JSON bytes published to Kafka, keys sorted.
    public func encoded() -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        // Strings, numbers and arrays of them: encoding cannot fail.
        return Array(try! encoder.encode(self))
    }

    /// Decodes a completion published by the worker.
    public static func decode(_ bytes: [UInt8]) throws -> VideoCompletion {
        try JSONDecoder().decode(VideoCompletion.self, from: Data(bytes))
    }

    private static func timestamp(_ date: Date) -> String {
        date.formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true))
    }
}
