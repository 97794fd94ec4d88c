import Foundation
import Kafka
import Logging
import Synchronization

/// Reads the results topic during a benchmark: when each result arrived, and the worker's
/// latency from consuming the request to producing its result.
final class ResultCollector: Sendable {
    struct Sample: Sendable {
        var arrival: ContinuousClock.Instant
        /// Result record timestamp minus the worker's consumed-at header, in milliseconds.
        var latencyMilliseconds: Double?
        var submitted: Bool
    }

    private final class Store: Sendable {
        let samples = Mutex<[Sample]>([])
    }
    private let store = Store()
    private let consumer: KafkaConsumer
    private let reader: Task<Void, Never>

    init(brokers: String, topic: String, logger: Logger) throws {
        consumer = try KafkaConsumer(
            properties: KafkaProperties([
                "bootstrap.servers": brokers, "group.id": "bench-results-\(UUID().uuidString)",
                "auto.offset.reset": "earliest", "session.timeout.ms": "6000",
            ]),
            topics: [topic],
            bufferCapacity: 100_000,
            logger: logger
        )
        let consumer = self.consumer
        let store = self.store
        let submittedMarker = Array(#""status":"submitted""#.utf8)
        reader = Task {
            do {
                for try await message in consumer.messages {
                    let consumedAt = message.headers.last { $0.name == "chanjing-worker-consumed-at" }
                        .flatMap { $0.value }.flatMap { Double(String(decoding: $0, as: UTF8.self)) }
                    let latency = zip(consumedAt, message.timestamp).map { $1.timeIntervalSince1970 * 1000 - $0 }
                    let submitted = message.value.firstRange(of: submittedMarker) != nil
                    store.samples.withLock { $0.append(Sample(arrival: .now, latencyMilliseconds: latency, submitted: submitted)) }
                }
            } catch {
                logger.error("Result reader stopped: \(error)")
            }
        }
    }

    var count: Int { store.samples.withLock { $0.count } }
    var all: [Sample] { store.samples.withLock { $0 } }

    /// Waits until `count` results arrived or `timeout` passed; true when they did.
    func wait(for count: Int, timeout: Duration) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        while self.count < count {
            guard ContinuousClock.now < deadline else { return false }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return true
    }

    func stop() async {
        await consumer.close()
        await reader.value
    }
}

private func zip<A, B>(_ a: A?, _ b: B?) -> (A, B)? {
    guard let a, let b else { return nil }
    return (a, b)
}
