import Foundation
import Logging

/// A group consumer. Its blocking poll runs on a dedicated thread that copies each record out of
/// librdkafka, destroys it there, and hands it to Swift through ``messages``.
///
/// Offsets are never stored or committed automatically: the owner stores a partition's position
/// with ``storeOffsets(_:)`` once everything before it is finished, and ``commit()`` commits what
/// was stored. When more than `bufferCapacity` records (or `bufferByteCapacity` bytes of values)
/// wait in ``messages`` the consumer pauses its partitions and keeps polling (so rebalances are
/// still served and the member is not evicted), and resumes them once the buffer has drained to
/// half. Pausing drops librdkafka's prefetched records, which are fetched again on resume: size
/// the buffer so that pausing stays the exception.
public final class KafkaConsumer: Sendable {
    /// The properties the delivery guarantee rests on; the consumer always sets them itself.
    public static let enforcedProperties: [String: String] = [
        "enable.auto.commit": "false",
        "enable.auto.offset.store": "false",
    ]

    private let client: RDKafkaClient
    private let rebalance: RebalanceHandler
    private let stop: PollStop
    private let pollLoop: Task<Void, Never>
    private let loop: PollLoop
    private let buffered = SharedCount()
    private let bufferedBytes = SharedCount()
    private let stream: AsyncThrowingStream<KafkaMessage, any Error>
    private let logger: Logger

    /// Creates the consumer and subscribes it to `topics`.
    ///
    /// - Parameters:
    ///   - properties: librdkafka properties; must include `bootstrap.servers` and `group.id`.
    ///   - topics: the topics to subscribe to.
    ///   - bufferCapacity: records waiting in ``messages`` before partitions are paused.
    ///   - bufferByteCapacity: bytes of record values waiting before partitions are paused.
    ///   - rebalanceListener: told about assignments and revocations on the poll thread.
    public convenience init(
        properties: KafkaProperties,
        topics: [String],
        bufferCapacity: Int = 10_000,
        bufferByteCapacity: Int = 16 << 20,
        rebalanceListener: (any KafkaRebalanceListener)? = nil,
        logger: Logger
    ) throws(KafkaError) {
        try self.init(
            properties: properties, source: .subscription(topics), bufferCapacity: bufferCapacity, bufferByteCapacity: bufferByteCapacity,
            rebalanceListener: rebalanceListener, logger: logger
        )
    }

    /// Creates a consumer that reads `partitions` from the given offsets, outside any group
    /// rebalancing (command-line tools reading a topic must not disturb the worker pool).
    public convenience init(properties: KafkaProperties, partitions: [TopicPartition: Int64], logger: Logger) throws(KafkaError) {
        var properties = properties
        if properties["group.id"] == nil { properties["group.id"] = "chanjing-worker-reader" }  // never joined nor committed
        try self.init(properties: properties, source: .assignment(partitions), bufferCapacity: 10_000, bufferByteCapacity: 16 << 20, rebalanceListener: nil, logger: logger)
    }

    /// A subscribing consumer whose poll waits up to `idleWait` for a record (tests lengthen it,
    /// to show that closing ends the wait).
    convenience init(properties: KafkaProperties, topics: [String], idleWait: Duration, logger: Logger) throws(KafkaError) {
        try self.init(
            properties: properties, source: .subscription(topics), bufferCapacity: 10_000, bufferByteCapacity: 16 << 20, rebalanceListener: nil,
            idleWait: idleWait, logger: logger
        )
    }

    private enum Source {
        case subscription([String])
        case assignment([TopicPartition: Int64])
    }

    private init(
        properties: KafkaProperties,
        source: Source,
        bufferCapacity: Int,
        bufferByteCapacity: Int,
        rebalanceListener: (any KafkaRebalanceListener)?,
        idleWait: Duration = PollLoop.idleWait,
        logger: Logger
    ) throws(KafkaError) {
        var properties = properties
        for (key, value) in Self.enforcedProperties { properties[key] = value }
        let rebalance = RebalanceHandler(listener: rebalanceListener, logger: logger)
        let (stream, continuation) = AsyncThrowingStream.makeStream(of: KafkaMessage.self, throwing: (any Error).self)
        let context = CallbackContext(logger: logger, rebalance: rebalance) { error in
            continuation.finish(throwing: error)
        }
        let client = try RDKafkaClient.makeConsumer(properties: properties, context: context)
        // Route the main queue (errors, logs, rebalances) to the consumer queue served by poll.
        client.pollSetConsumer()
        let startError: KafkaError?
        switch source {
        case .subscription(let topics):
            startError = client.subscribe(topics)
        case .assignment(let partitions):
            startError = client.assign(partitions)
        }
        if let startError {
            client.destroy()
            throw KafkaError(code: startError.code, name: startError.name, message: "cannot start consuming: \(startError.message)")
        }

        self.client = client
        self.rebalance = rebalance
        self.stream = stream
        self.logger = logger
        let loop = PollLoop(
            client: client,
            rebalance: rebalance,
            buffered: buffered,
            bufferedBytes: bufferedBytes,
            capacity: max(1, bufferCapacity),
            byteCapacity: max(1, bufferByteCapacity),
            continuation: continuation,
            logger: logger
        )
        self.loop = loop
        let stop = PollStop(queue: client.consumerQueue())
        self.stop = stop
        self.pollLoop = Task {
            await BlockingThread.run(name: "kafka-cons-poll") {
                loop.run(until: stop, idleWait: idleWait)
            }
        }
    }

    /// The records, in the order each partition delivers them. Iterate it once. It ends after
    /// ``close()``, and throws if librdkafka raises a fatal error.
    public var messages: Messages { Messages(stream: stream, buffered: buffered, bufferedBytes: bufferedBytes) }

    /// The consumer's state for metrics and probes. Statistics arrive every
    /// `statistics.interval.ms` (none when it is 0).
    public var health: ConsumerHealth {
        ConsumerHealth(
            lastPoll: loop.progress.last,
            assignment: rebalance.assignment,
            pausedPartitions: loop.pausedPartitions.current,
            statistics: client.context.statistics.withLock { $0 }
        )
    }

    /// Records fetched but not yet taken from ``messages``.
    public var bufferedCount: Int { buffered.current }

    /// Stores positions to commit (the offset of the next record to read, i.e. last finished + 1).
    /// Returns the partitions whose store failed; `ERR__STATE` there means the partition is no
    /// longer assigned to this member, which is expected after a revoke.
    @discardableResult
    public func storeOffsets(_ positions: [TopicPartition: Int64]) -> [TopicPartition: KafkaError] {
        guard !positions.isEmpty else { return [:] }
        return client.storeOffsets(positions)
    }

    /// Starts an asynchronous commit of every stored position. Failures are logged; the next
    /// commit carries the same or later positions.
    public func commit() {
        if let error = client.startCommit() {
            logger.warning("Cannot start an offset commit: \(error)")
        }
    }

    /// Leaves the group: stops polling, closes the consumer (which revokes the assignment, so the
    /// listener stores and the consumer commits final offsets), ends ``messages`` and destroys
    /// the client. Safe to call more than once.
    public func close() async {
        stop.request()
        await pollLoop.value
    }

    /// The records of a ``KafkaConsumer``.
    public struct Messages: AsyncSequence, Sendable {
        public typealias Element = KafkaMessage
        let stream: AsyncThrowingStream<KafkaMessage, any Error>
        let buffered: SharedCount
        let bufferedBytes: SharedCount

        public func makeAsyncIterator() -> Iterator {
            Iterator(base: stream.makeAsyncIterator(), buffered: buffered, bufferedBytes: bufferedBytes)
        }

        public struct Iterator: AsyncIteratorProtocol {
            var base: AsyncThrowingStream<KafkaMessage, any Error>.AsyncIterator
            let buffered: SharedCount
            let bufferedBytes: SharedCount

            public mutating func next() async throws -> KafkaMessage? {
                let message = try await base.next()
                if let message {
                    buffered.add(-1)
                    bufferedBytes.add(-message.value.count)
                }
                return message
            }
        }
    }
}
