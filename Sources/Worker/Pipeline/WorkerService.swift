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

    private enum Child {
        case processed
        case committerStopped
        case drainDeadline
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

    /// Takes records until the stream ends (graceful shutdown), then drains.
    private func consume(reportingTo failure: Promise<any Error>) async throws {
        try await withThrowingTaskGroup(of: Child.self) { group in
            group.addTask { [consumer, commitInterval] in
                while (try? await Task.sleep(for: commitInterval)) != nil { consumer.commit() }
                return .committerStopped
            }
            let slots = processor.slots
            // Children, finished or not, until `group.next()` collects them.
            var running = 0
            logger.info("Worker consuming", metadata: ["max_in_flight": "\(slots.capacity)", "ordering": "\(ordering)"])
            for try await message in consumer.messages.cancelOnGracefulShutdown() {
                while running >= slots.heldLimit {
                    if case .processed = try await group.next() { running -= 1 }
                }
                // The request gives its slot back (``RequestProcessor/process(_:consumedAt:)``).
                guard await slots.take() else { break }
                guard coordinator.begin(message) else {
                    slots.release()
                    logger.debug("Skipping a record of a revoked assignment", metadata: ["partition": "\(message.partition)", "offset": "\(message.offset)"])
                    continue
                }
                running += 1
                metrics.consumed(topic: message.topic)
                metrics.started()
                let consumedAt = Date()
                // Prepared here, in consume order: its turns are reserved in that order.
                let prepared = processor.prepare(message)
                group.addTask { [processor, metrics] in
                    defer {
                        processor.release(prepared)
                        metrics.finished()
                    }
                    do {
                        try await processor.process(prepared, consumedAt: consumedAt)
                    } catch {
                        failure.fulfill(error)
                        throw error
                    }
                    return .processed
                }
            }
            try await drain(&group, running: running)
        }
    }

    /// Waits for in-flight requests, at most the drain timeout; then cancels what is left, which
    /// stays uncommitted and is redelivered.
    private func drain(_ group: inout ThrowingTaskGroup<Child, any Error>, running: Int) async throws {
        var running = running
        logger.info("Draining: waiting for requests in flight", metadata: ["in_flight": "\(running)", "timeout": "\(drainTimeout)"])
        group.addTask { [drainTimeout] in
            try? await Task.sleep(for: drainTimeout)
            return .drainDeadline
        }
        while running > 0, let child = try await group.next() {
            switch child {
            case .processed: running -= 1
            case .committerStopped: continue
            case .drainDeadline:
                logger.warning("Drain timeout passed; \(running) requests stay uncommitted and will be redelivered")
                group.cancelAll()
                return
            }
        }
        group.cancelAll()
    }
}
