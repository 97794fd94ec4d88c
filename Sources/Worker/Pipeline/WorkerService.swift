import Foundation
import Kafka
import Logging
import Primitives
import ServiceLifecycle

/// The pipeline as a swift-service-lifecycle `Service`: takes request records from the
/// consumer, keeps up to `--max-in-flight` of them at work (``InFlightSlots``), commits stored
/// offsets periodically, and on graceful shutdown stops taking records and lets in-flight ones
/// finish (bounded by the drain timeout); the runtime then closes the consumer, which commits the
/// final positions.
final class WorkerService: Service {
    private let consumer: KafkaConsumer
    private let coordinator: OffsetCoordinator
    private let processor: RequestProcessor
    private let metrics: WorkerMetrics
    private let commitInterval: Duration
    private let drainTimeout: Duration
    private let ordering: WorkerConfiguration.Ordering
    private let logger: Logger

    init(
        consumer: KafkaConsumer,
        coordinator: OffsetCoordinator,
        processor: RequestProcessor,
        configuration: WorkerConfiguration,
        metrics: WorkerMetrics,
        logger: Logger
    ) {
        self.metrics = metrics
        self.consumer = consumer
        self.coordinator = coordinator
        self.processor = processor
        self.commitInterval = configuration.commitInterval
        self.drainTimeout = configuration.drainTimeout
        self.ordering = configuration.ordering
        self.logger = logger
    }

    /// Consumes until graceful shutdown, then drains; throws when the worker fails. The consumer
    /// is closed by ``WorkerRuntime`` once every service has stopped, on every path.
    func run() async throws {
        defer {
            coordinator.processingStopped()
            logger.info("Worker stopped")
        }
        // A request that fails the worker (the producer's fatal error) must stop it at once,
        // even while the loop below waits for the next record rather than for its children.
        let failure = Promise<any Error>()
        try await withThrowingTaskGroup(of: Void.self) { outer in
            outer.addTask { try await self.consume(reportingTo: failure) }
            outer.addTask { if let error = await failure.valueUnlessCancelled() { throw error } }
            defer { outer.cancelAll() }
            try await outer.next()
        }
    }

    /// Takes records until graceful shutdown, then drains.
    private func consume(reportingTo failure: Promise<any Error>) async throws {
        let slots = processor.slots
        try await withThrowingDiscardingTaskGroup { group in
            group.addTask { [consumer, commitInterval] in
                while (try? await Task.sleep(for: commitInterval)) != nil { consumer.commit() }
            }
            logger.info("Worker consuming", metadata: ["max_in_flight": "\(slots.capacity)", "ordering": "\(ordering)"])
            // A graceful shutdown ends the stream, or the wait for a slot: every slot may be held
            // by requests that wait for an open circuit, which only the drain timeout ends.
            try await withGracefulShutdownHandler {
                for try await message in consumer.messages.cancelOnGracefulShutdown() {
                    guard await slots.take() else { break }
                    guard coordinator.begin(message) else {
                        slots.release()
                        slots.ended()
                        logger.debug("Skipping a record of a revoked assignment", metadata: ["partition": "\(message.partition)", "offset": "\(message.offset)"])
                        continue
                    }
                    metrics.consumed(topic: message.topic)
                    metrics.started()
                    let consumedAt = Date()
                    // Prepared here, in consume order: its turns are reserved in that order.
                    let prepared = processor.prepare(message)
                    group.addTask { [processor, metrics] in
                        defer {
                            processor.release(prepared)
                            slots.ended()
                            metrics.finished()
                        }
                        do {
                            // The request gives its slot back; its place among those held ends here.
                            try await processor.process(prepared, consumedAt: consumedAt)
                        } catch {
                            failure.fulfill(error)
                            throw error
                        }
                    }
                }
            } onGracefulShutdown: {
                slots.close()
            }
            await drain(slots)
            // What is left stays uncommitted and is redelivered; the committer stops too.
            group.cancelAll()
        }
    }

    /// Waits for the requests held, at most the drain timeout.
    private func drain(_ slots: InFlightSlots) async {
        logger.info("Draining: waiting for requests in flight", metadata: ["in_flight": "\(slots.held)", "timeout": "\(drainTimeout)"])
        // Looked at often: a shutdown should not wait long after its last request.
        let deadline = ContinuousClock.now + drainTimeout
        while slots.held > 0, ContinuousClock.now < deadline {
            do { try await Task.sleep(until: min(deadline, .now + .milliseconds(20)), clock: .continuous) } catch { return }
        }
        if slots.held > 0 {
            logger.warning("Drain timeout passed; \(slots.held) requests stay uncommitted and will be redelivered")
        }
    }
}
