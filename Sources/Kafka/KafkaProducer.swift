import Logging
import Synchronization

/// A Kafka producer whose ``send(_:)`` returns when the broker has acknowledged the record (or
/// librdkafka has given up on it). Delivery reports are served by the producer's own poll
/// thread, so they never wait on a consumer.
public final class KafkaProducer: Sendable {
    private let client: RDKafkaClient
    private let pending: PendingDeliveries
    private let stop: PollStop
    private let pollLoop: Task<Void, Never>
    private let logger: Logger

    /// How long the poll thread waits for a delivery report: an idle producer's poll thread wakes
    /// this often. A report ends the wait at once, and so does ``shutdown(flushTimeout:)``.
    static let idleWait = Duration.seconds(1)

    /// Creates the producer. `properties` must hold at least `bootstrap.servers`.
    public convenience init(properties: KafkaProperties, logger: Logger) throws(KafkaError) {
        try self.init(properties: properties, idleWait: Self.idleWait, logger: logger)
    }

    init(properties: KafkaProperties, idleWait: Duration, logger: Logger) throws(KafkaError) {
        // After a fatal error (idempotence broken) librdkafka never reports the records it still
        // holds, so every waiting send is failed here instead of waiting forever.
        let pending = PendingDeliveries()
        let context = CallbackContext(logger: logger, onFatal: { pending.failAll($0) })
        let client = try RDKafkaClient.makeProducer(properties: properties, context: context)
        self.client = client
        self.pending = pending
        self.logger = logger
        let stop = PollStop(queue: client.mainQueue())
        self.stop = stop
        self.pollLoop = Task {
            await BlockingThread.run(name: "kafka-prod-poll") {
                while !stop.isRequested {
                    client.poll(timeout: idleWait)
                }
                stop.release()
            }
        }
    }

    /// How long to wait before producing again when librdkafka's local queue is full
    /// (``KafkaError/isQueueFull``): its documented back-off, as deliveries in progress free room.
    public static let queueFullBackoff = Duration.milliseconds(5)

    /// The fatal error librdkafka raised on this producer, if any. After one, nothing more can be
    /// produced and the process should stop without committing unacknowledged work.
    public var fatalError: KafkaError? { client.fatalError() }

    /// Produces `message` and waits for its delivery report.
    ///
    /// Waits while librdkafka's local queue is full. Throws the delivery error when the record
    /// could not be written within `message.timeout.ms`.
    @discardableResult
    public func send(_ message: OutgoingMessage) async throws(KafkaError) -> DeliveryReport {
        while true {
            let outcome = await withCheckedContinuation { continuation in
                send(message) { continuation.resume(returning: $0) }
            }
            switch outcome {
            case .success(let report):
                return report
            case .failure(let error) where error.isQueueFull:
                try await waitForRoom(sending: message.topic)
            case .failure(let error):
                throw error
            }
        }
    }

    /// Produces `messages` in their order and returns once every one has its delivery report:
    /// many share a round trip, where ``send(_:)`` one after another waits a round trip each
    /// (about 200 records a second). Order within a partition is kept as with ``send(_:)``:
    /// records are handed to librdkafka one by one, in order, and a full local queue is waited
    /// out before the next. Throws the first delivery error, after every record has its report.
    public func sendAll(_ messages: [OutgoingMessage]) async throws(KafkaError) {
        guard !messages.isEmpty else { return }
        let (reports, reported) = AsyncStream.makeStream(of: Result<DeliveryReport, KafkaError>.self)
        for message in messages {
            while true {
                let box = DeliveryBox(
                    topic: message.topic,
                    completion: { result in
                        // A refusal for a full queue is not a report: the record is handed over again.
                        if case .failure(let error) = result, error.isQueueFull { return }
                        reported.yield(result)
                    },
                    pending: pending
                )
                guard let refusal = pending.register(box) ?? client.produce(message, box: box) else { break }
                box.complete(.failure(refusal))
                guard refusal.isQueueFull else { break }
                try await waitForRoom(sending: message.topic)
            }
        }
        var (count, firstError) = (0, KafkaError?.none)
        for await report in reports {
            if case .failure(let error) = report, firstError == nil { firstError = error }
            count += 1
            if count == messages.count { break }
        }
        if let firstError { throw firstError }
    }

    /// Waits ``queueFullBackoff`` after librdkafka refused a record for a full local queue.
    private func waitForRoom(sending topic: String) async throws(KafkaError) {
        do {
            try await Task.sleep(for: Self.queueFullBackoff)
        } catch {
            throw KafkaError.client("send to \(topic) cancelled while the producer queue was full")
        }
    }

    /// Produces `message` and calls `onDelivery` once with its delivery report: on the producer's
    /// poll thread, so it must be brief (other reports wait meanwhile) and may produce again at
    /// once, without a hop to the task executor. When librdkafka does not accept the message
    /// (its queue is full, or the producer has failed), `onDelivery` is called before this
    /// returns.
    public func send(_ message: OutgoingMessage, onDelivery: @escaping @Sendable (Result<DeliveryReport, KafkaError>) -> Void) {
        let box = DeliveryBox(topic: message.topic, completion: onDelivery, pending: pending)
        if let error = pending.register(box) ?? client.produce(message, box: box) {
            box.complete(.failure(error))
        }
    }

    /// Looks `topic` up through this producer, so that its first records do not wait for the
    /// lookup: librdkafka otherwise fetches an unknown topic's metadata on its first record,
    /// which held a worker's first ledger writes for about 0.8 s on the mock cluster.
    public func warmUp(topic: String, timeout: Duration) async throws(KafkaError) {
        let client = self.client
        let error = await BlockingThread.run(name: "kafka-warm-up") {
            client.fetchMetadata(of: topic, timeout: timeout)
        }
        if let error { throw error }
    }

    /// Waits up to `timeout` for every queued record to be delivered; returns false when some
    /// were still outstanding.
    public func flush(timeout: Duration) async -> Bool {
        let client = self.client
        return await BlockingThread.run(name: "kafka-flush") {
            client.flush(timeout: timeout)
        }
    }

    /// Flushes (bounded by `flushTimeout`), stops the poll thread and destroys the producer.
    /// Sends still waiting when the timeout passes fail with a purge error; later ones fail at
    /// once (``KafkaError/isProducerClosed``).
    public func shutdown(flushTimeout: Duration = .seconds(10)) async {
        pending.close(.destroyed("the producer is closed"))
        if await !flush(timeout: flushTimeout) {
            logger.warning("Kafka producer closed with records still unacknowledged after \(flushTimeout)")
            client.purge()
            client.poll(timeout: .zero)
        }
        stop.request()
        await pollLoop.value
        let client = self.client
        await BlockingThread.run(name: "kafka-destroy") { client.destroy() }
    }
}

/// Carries one send's completion through librdkafka's per-message opaque pointer. Completed
/// once, by its delivery report or by a fatal error, whichever comes first.
final class DeliveryBox: Sendable {
    typealias Completion = @Sendable (Result<DeliveryReport, KafkaError>) -> Void
    let topic: String
    private let completion: Mutex<Completion?>
    private let pending: PendingDeliveries

    init(topic: String, completion: @escaping Completion, pending: PendingDeliveries) {
        self.topic = topic
        self.completion = Mutex(completion)
        self.pending = pending
    }

    /// Completes the send, unless it was already completed.
    func complete(_ outcome: Result<DeliveryReport, KafkaError>) {
        pending.remove(self)
        completion.withLock { $0.take() }?(outcome)
    }
}

/// The sends of one producer still waiting for a delivery report.
final class PendingDeliveries: Sendable {
    private struct State {
        var boxes: [ObjectIdentifier: DeliveryBox] = [:]
        var fatal: KafkaError?
        /// Set when the producer starts closing: later sends are refused with it.
        var closed: KafkaError?
    }

    private let state = Mutex(State())

    /// Tracks `box`; returns the producer's fatal error instead when it has one, or the closed
    /// error once it is closing.
    func register(_ box: DeliveryBox) -> KafkaError? {
        state.withLock { state in
            if let refused = state.fatal ?? state.closed { return refused }
            state.boxes[ObjectIdentifier(box)] = box
            return nil
        }
    }

    /// Refuses later sends with `error`; those already registered go on.
    func close(_ error: KafkaError) {
        state.withLock { $0.closed = error }
    }

    func remove(_ box: DeliveryBox) {
        _ = state.withLock { $0.boxes.removeValue(forKey: ObjectIdentifier(box)) }
    }

    /// Fails every waiting send, and every later one, with `error`.
    func failAll(_ error: KafkaError) {
        let boxes = state.withLock { state in
            state.fatal = error
            defer { state.boxes.removeAll() }
            return Array(state.boxes.values)
        }
        for box in boxes { box.complete(.failure(error)) }
    }
}
