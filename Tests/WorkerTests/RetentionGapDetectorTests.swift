import Kafka
import Testing
import TestSupport
@testable import Worker

/// The mock cluster of librdkafka 2.0.2 cannot delete records, so the detector is driven here
/// with offsets as a real cluster would report them after retention.
@Suite("Requests lost to retention")
struct RetentionGapDetectorTests {
    let partition = TopicPartition(topic: "requests", partition: 0)

    private func detector(committed: Int64?, logStart: Int64, newGroupStartsAtZero: Bool = true, metrics: WorkerMetrics, sink: LogSink) -> RetentionGapDetector {
        let partition = self.partition
        let offsets = RetentionGapDetector.Offsets(
            committed: { _ in committed.map { [partition: $0] } ?? [:] },
            logStart: { _ in logStart }
        )
        return RetentionGapDetector(offsets: offsets, newGroupStartsAtZero: newGroupStartsAtZero, metrics: metrics, logger: TestLogging.capturing(sink, level: .info))
    }

    private func message(offset: Int64, generation: Int) -> KafkaMessage {
        KafkaMessage(topic: partition.topic, partition: partition.partition, offset: offset, key: nil, value: [], headers: [], timestamp: nil, generation: generation)
    }

    private func lost(_ metrics: WorkerMetrics) -> Double? {
        prometheusValue(#"chanjing_worker_requests_lost_to_retention_total{topic="requests",partition="0"}"#, in: metrics.registry.emitToString())
    }

    @Test("a committed offset below the log start: the records in between are counted and logged once", .timeLimit(.minutes(1)))
    func gapCounted() async throws {
        let metrics = WorkerMetrics()
        let sink = LogSink()
        let detector = detector(committed: 100, logStart: 250, metrics: metrics, sink: sink)
        detector.assigned([partition], generation: 1)
        detector.observe(message(offset: 250, generation: 1))
        detector.observe(message(offset: 251, generation: 1))
        try await eventually(10, "counted") { lost(metrics) == 150 }
        try await Task.sleep(for: .milliseconds(200))
        #expect(lost(metrics) == 150, "counted once, not per record")
        #expect(sink.all.contains { $0.contains("deleted by retention") && $0.contains("150") })
    }

    @Test("a new group starting at the earliest record counts what retention deleted before its first read", .timeLimit(.minutes(1)))
    func newGroup() async throws {
        let metrics = WorkerMetrics()
        let detector = detector(committed: nil, logStart: 40, metrics: metrics, sink: LogSink())
        detector.assigned([partition], generation: 1)
        detector.observe(message(offset: 40, generation: 1))
        try await eventually(10, "counted") { lost(metrics) == 40 }
    }

    @Test("no gap, a new group starting at the latest record, or a record of an older assignment: nothing is counted (the series stays at 0)", .timeLimit(.minutes(1)))
    func noGap() async throws {
        for (committed, first, generation) in [(Int64(250), Int64(250), 1), (nil, 250, 1), (100, 250, 2)] as [(Int64?, Int64, Int)] {
            let metrics = WorkerMetrics()
            let detector = detector(committed: committed, logStart: 250, newGroupStartsAtZero: false, metrics: metrics, sink: LogSink())
            detector.assigned([partition], generation: 1)
            detector.observe(message(offset: first, generation: generation))
            try await Task.sleep(for: .milliseconds(300))
            #expect(lost(metrics) == 0, "committed \(String(describing: committed)), first \(first), generation \(generation)")
        }
    }
}
