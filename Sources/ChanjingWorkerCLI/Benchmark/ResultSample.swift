import Foundation
import Kafka

/// One result as a benchmark sees it: when it arrived, and the worker's latency from consuming
/// the request to producing its result.
struct ResultSample: Sendable {
    var arrival: ContinuousClock.Instant
    /// When the worker produced it (the record's timestamp).
    var produced: Date?
    /// Result record timestamp minus the worker's consumed-at header, in milliseconds.
    var latencyMilliseconds: Double?
    var submitted: Bool

    private static let submittedMarker = Array(#""status":"submitted""#.utf8)

    /// The sample of a result record arriving now.
    init(_ message: KafkaMessage) {
        arrival = .now
        produced = message.timestamp
        let consumedAt = message.headers.last { $0.name == "chanjing-worker-consumed-at" }
            .flatMap { $0.value }.flatMap { Double(String(decoding: $0, as: UTF8.self)) }
        if let consumedAt, let timestamp = message.timestamp {
            latencyMilliseconds = timestamp.timeIntervalSince1970 * 1000 - consumedAt
        }
        // Found in the bytes: decoding every result would load the benchmark's own process.
        submitted = message.value.firstRange(of: Self.submittedMarker) != nil
    }
}
