import Chanjing
import Foundation
import Kafka
import Ledger
import Logging
import VideoContract

/// Where a request's result goes: the results topic (``ResultPublisher``), or a test's collector.
protocol ResultPublishing: Sendable {
    /// True once the result is acknowledged; false when the task was cancelled first.
    func publish(_ result: VideoResult, for request: KafkaMessage, consumedAt: Date) async throws(WorkerFailure) -> Bool
}

/// Where a request's offset goes once it is done (``OffsetCoordinator``).
protocol OffsetStore: Sendable {
    /// The revocation of the assignment the record was fetched under: the request is not wanted
    /// once it began.
    func revocation(of message: KafkaMessage) -> Revocation
    /// The record is done: its offset may be committed.
    func finish(_ message: KafkaMessage)
    /// The record is left without a result, for its redelivery.
    func leave(_ message: KafkaMessage)
}

/// Drives one request record through its ``RequestLifecycle``: carries out each action against
/// the ledger, Chanjing (``ChanjingGateway``), the result publisher and the offset store, and
/// reports back what happened. Only shutdown or a dead producer or ledger (a thrown
/// ``WorkerFailure``) ends it otherwise.
struct RequestProcessor: Sendable {
    let decoder: RequestDecoder
    let settings: RequestLifecycle.Settings
    let chanjing: ChanjingGateway
    /// Nil when the submission ledger is off (`--ledger off`).
    let ledger: SubmissionLedger?
    /// With task tracking on: `submitted` outcomes carry what following the task needs.
    let followsTasks: Bool
    let publisher: any ResultPublishing
    let offsets: any OffsetStore
    let metrics: WorkerMetrics
    let logger: Logger
    /// `--max-in-flight`: a request holds a slot from its start until its result is written,
    /// except while it waits for an earlier call of its own.
    let slots: InFlightSlots
    /// With `--ordering key`: records with the same Kafka key take turns, in consume order.
    let keyOrder: KeyedSequencer?
    /// With the ledger on: the copies of one request (same partition and `request_id`) in this
    /// worker take turns; the first records its outcome, the others are answered from the ledger.
    let copies = KeyedSequencer()

    /// `settings.ledger` follows `ledger`: the lifecycle uses the ledger exactly when there is one.
    init(
        decoder: RequestDecoder, settings: RequestLifecycle.Settings, chanjing: ChanjingGateway, ledger: SubmissionLedger?, followsTasks: Bool = false,
        publisher: any ResultPublishing, offsets: any OffsetStore, orderByKey: Bool = false, slots: InFlightSlots = InFlightSlots(capacity: 64),
        metrics: WorkerMetrics, logger: Logger
    ) {
        self.decoder = decoder
        self.keyOrder = orderByKey ? KeyedSequencer() : nil
        self.settings = settings.with(ledger: ledger != nil)
        self.chanjing = chanjing
        self.ledger = ledger
        self.followsTasks = followsTasks
        self.publisher = publisher
        self.offsets = offsets
        self.slots = slots
        self.metrics = metrics
        self.logger = logger
    }

    /// A record decoded, with its turns reserved: after the records before it with the same key,
    /// after the earlier copies of the same request.
    struct Prepared: Sendable {
        let message: KafkaMessage
        let decoded: DecodedRequest
        let keyTurn: KeyedSequencer.Ticket?
        let copyTurn: KeyedSequencer.Ticket?
    }

    /// Decodes `message` and reserves its turns. Call it in consume order, so that same-key
    /// records keep their order and the first copy of a request is the one submitted.
    func prepare(_ message: KafkaMessage) -> Prepared {
        let decoded = decoder.decode(message.value, fallbackRequestID: "\(message.topic)-\(message.partition)-\(message.offset)")
        let keyTurn = message.key.flatMap { keyOrder?.reserve($0) }
        var copyTurn: KeyedSequencer.Ticket?
        if ledger != nil, case .valid(let request) = decoded {
            copyTurn = copies.reserve(Array("\(message.partition)/\(request.requestID)".utf8))
        }
        return Prepared(message: message, decoded: decoded, keyTurn: keyTurn, copyTurn: copyTurn)
    }

    /// Ends the record's turns, whether or not it was processed: the next record may go.
    func release(_ prepared: Prepared) {
        if let turn = prepared.keyTurn { keyOrder?.finish(turn) }
        if let turn = prepared.copyTurn { copies.finish(turn) }
    }

    /// Runs the record's lifecycle to its end: its offset is then stored, or left for the
    /// redelivery. `consumedAt` is when the worker took the record from the consumer. It starts
    /// holding one of ``slots`` and gives it back. Call ``release(_:)`` afterwards.
    func process(_ prepared: Prepared, consumedAt: Date) async throws(WorkerFailure) {
        let request = Request(prepared, consumedAt: consumedAt, offsets: offsets)
        var lifecycle = RequestLifecycle(
            prepared.decoded, bodyHash: request.bodyHash, offset: prepared.message.offset, timestamp: prepared.message.timestamp, settings: settings
        )
        var action = lifecycle.start()
        var holdsSlot = true
        defer { if holdsSlot { slots.release() } }
        while true {
            switch action {
            case .commit:
                return offsets.finish(prepared.message)
            case .leave:
                return offsets.leave(prepared.message)
            default:
                if case .end = action {
                    // Only Kafka's acknowledgements are waited for from here: the slot goes to
                    // the next call.
                    slots.release()
                    holdsSlot = false
                }
                let event = try await perform(action, for: request)
                action = lifecycle.next(event, at: .current)
            }
        }
    }

    /// What the actions need of the request being driven.
    private struct Request: Sendable {
        let prepared: Prepared
        let consumedAt: Date
        /// The valid request's ledger hash (empty for an invalid one).
        let bodyHash: String
        /// Ends the request's waits once its partition is revoked: it is then its next owner's.
        let revocation: Revocation

        init(_ prepared: Prepared, consumedAt: Date, offsets: any OffsetStore) {
            self.prepared = prepared
            self.consumedAt = consumedAt
            if case .valid(let request) = prepared.decoded {
                bodyHash = request.submitBody.ledgerHash
            } else {
                bodyHash = ""
            }
            revocation = offsets.revocation(of: prepared.message)
        }

        /// False once the record's partition was revoked or the worker is shutting down.
        var stillWanted: Bool { !Task.isCancelled && !revocation.hasBegun }

        var requestID: String { prepared.decoded.requestID }
        /// The valid request's submit body (built when needed rather than held by every request
        /// in flight).
        var body: SubmitTaskRequest {
            guard case .valid(let request) = prepared.decoded else { preconditionFailure("only a valid request calls Chanjing") }
            return request.submitBody
        }
        var partition: Int32 { prepared.message.partition }
    }

    private func perform(_ action: RequestLifecycle.Action, for request: Request) async throws(WorkerFailure) -> RequestLifecycle.Event {
        switch action {
        case .waitForTurn:
            // Waiting ends early only on cancellation (shutdown past the drain timeout).
            do {
                if let turn = request.prepared.keyTurn { try await keyOrder?.waitForTurn(turn) }
                if let turn = request.prepared.copyTurn { try await copies.waitForTurn(turn) }
            } catch {
                return .notWanted
            }
            return .turnGranted
        case .lookUp:
            let lookup: SubmissionLedger.Lookup
            do {
                lookup = try await ledger!.lookup(request.requestID, partition: request.partition)
            } catch {
                throw WorkerFailure(error)
            }
            if case .found(let record) = lookup, record.kind != .outcome, record.bodyHash == request.bodyHash, settings.reconcilePolicy != .resubmit {
                logger.notice("A previous submit of this request has no outcome; reconciling", metadata: Self.metadata(request.prepared))
            }
            return .ledgerAnswered(lookup)
        case .sleep(let deadline, let pause):
            note(pause, until: deadline, request: request)
            guard pause.stepsAside else { return await request.revocation.sleep(until: deadline) ? .woke : .notWanted }
            slots.stepAside()
            let woke = await request.revocation.sleep(until: deadline)
            return await slots.rejoin(before: request.revocation) && woke ? .woke : .notWanted
        case .search(let since):
            guard request.stillWanted else { return .notWanted }
            switch await chanjing.search(request.body, since: since, requestID: request.requestID, partition: request.partition, ledger: ledger!) {
            case .success(let task?):
                return .searched(task.uniqueID)
            case .success(nil):
                metrics.reconciled(.notFound)
                logger.notice("Reconciled: no task from an earlier submit", metadata: Self.metadata(request.prepared))
                return .searched(nil)
            case .failure(let error):
                return .searchFailed(error)
            }
        case .writeAdoption(let creationID):
            try await write(LedgerEntry(kind: .adoption, requestID: request.requestID, bodyHash: request.bodyHash, at: LedgerEntry.now(), creationID: creationID), for: request)
            metrics.reconciled(.adopted)
            metrics.duplicateAvoided(.adopted)
            logger.notice("Reconciled: adopted the task an earlier submit created", metadata: Self.metadata(request.prepared).merging(["creation_id": "\(creationID)"]) { $1 })
            return .written
        case .writeOutcome(let outcome, let intentAt):
            try await write(outcomeEntry(outcome, intentAt: intentAt, for: request), for: request)
            return .written
        case .waitForCircuit(let retried):
            if let retried { metrics.retried(ambiguous: retried == .ambiguous) }
            guard let waited = await chanjing.waitForCircuit(before: request.revocation) else { return .notWanted }
            return .circuitClosed(waited: waited)
        case .waitForRateSlot:
            return await chanjing.limiter.acquire(before: request.revocation) ? .rateSlotGranted : .notWanted
        case .takeToken:
            switch await chanjing.takeToken(before: request.revocation) {
            case nil: return .notWanted
            case .success(let token)?: return .tokenTaken(token)
            case .failure(let error)?: return .chanjingFailed(error, circuitOpen: chanjing.circuit.isOpen)
            }
        case .writeIntent(let firstIntentAt):
            // A revoked request is its next owner's now; an intent from here could race that owner's.
            guard request.stillWanted else { return .notWanted }
            return .intentAcknowledged(at: try await writeIntent(firstIntentAt: firstIntentAt, for: request))
        case .call(let token):
            // Revoked while the intent was written: the next owner reconciles it.
            guard request.stillWanted else { return .notWanted }
            switch await chanjing.submit(request.body, token: token) {
            case .success(let response): return .submitted(response)
            case .failure(let error): return .chanjingFailed(error, circuitOpen: chanjing.circuit.isOpen)
            }
        case .end(let ending, let recordOutcome, let intentAt):
            return .ended(published: try await end(ending, recordOutcome: recordOutcome, intentAt: intentAt, for: request))
        case .commit, .leave:
            preconditionFailure("\(action) ends the lifecycle; it is carried out by process(_:consumedAt:)")
        }
    }

    // The actions that hold a ledger entry or a result while they wait run in functions of their
    // own: `perform`'s frame, held by every request in flight, stays small (docs/benchmarks.md,
    // scenario 5).

    /// Writes an intent and returns its time once Kafka acknowledged it.
    private func writeIntent(firstIntentAt: Date?, for request: Request) async throws(WorkerFailure) -> Date {
        let at = LedgerEntry.now()
        try await write(
            LedgerEntry(kind: .intent, requestID: request.requestID, bodyHash: request.bodyHash, at: at, intentAt: firstIntentAt.map(LedgerEntry.milliseconds)),
            for: request
        )
        return LedgerEntry.date(at)
    }

    /// A key longer than this is not kept for the completion, which is then keyed by the
    /// request ID; headers are kept while they fit this many bytes.
    static let maxFollowedKeyBytes = 1024
    static let maxFollowedHeaderBytes = 2048

    /// The ledger's outcome entry for the request; with tracking on, a `submitted` one carries
    /// what following its task needs.
    private func outcomeEntry(_ outcome: SubmissionOutcome, intentAt: Date?, for request: Request) -> LedgerEntry {
        var entry = outcome.ledgerEntry(requestID: request.requestID, bodyHash: request.bodyHash, requestOffset: request.prepared.message.offset, intentAt: intentAt)
        if followsTasks, outcome.status == .submitted {
            // Tighter bounds than the result's: the ledger holds them in memory until the task ends.
            let message = request.prepared.message
            let key = message.key.flatMap { $0.count <= Self.maxFollowedKeyBytes ? $0 : nil }
            let headers = ResultPublisher.carriedHeaders(message.headers, maxCount: 16, maxBytes: Self.maxFollowedHeaderBytes)
            entry.follow = LedgerEntry.Follow(offset: message.offset, key: key, headers: headers)
        }
        return entry
    }

    /// Writes `entry` to the request's ledger partition and waits for the acknowledgement.
    private func write(_ entry: LedgerEntry, for request: Request) async throws(WorkerFailure) {
        try await Self.acknowledged(ledger!.write(entry, partition: request.partition))
    }

    private static func acknowledged(_ write: PendingWrite) async throws(WorkerFailure) {
        do {
            try await write.acknowledged()
        } catch {
            throw WorkerFailure(error)
        }
    }

    /// Publishes the request's result (and records its outcome, when asked); true once both are
    /// acknowledged.
    private func end(_ ending: RequestLifecycle.Ending, recordOutcome: Bool, intentAt: Date?, for request: Request) async throws(WorkerFailure) -> Bool {
        let result = result(of: ending, request: request)
        let message = request.prepared.message
        guard recordOutcome, case .outcome(let outcome) = ending, let ledger else {
            return try await publisher.publish(result, for: message, consumedAt: request.consumedAt)
        }
        // The outcome and the result are written at once, and both are acknowledged before the
        // offset can be committed; a crash between the two is reconciled on redelivery.
        let recording = ledger.write(outcomeEntry(outcome, intentAt: intentAt, for: request), partition: request.partition)
        let published = try await publisher.publish(result, for: message, consumedAt: request.consumedAt)
        try await Self.acknowledged(recording)
        return published
    }

    /// Logs and counts a pause.
    private func note(_ pause: RequestLifecycle.Pause, until deadline: ContinuousClock.Instant, request: Request) {
        switch pause {
        case .backOff(let attempt, let ambiguous, let error):
            metrics.retried(ambiguous: ambiguous)
            logger.info(
                "Retrying a Chanjing submit",
                metadata: [
                    "request_id": "\(request.requestID)", "attempt": "\(attempt)", "kind": "\(ambiguous ? "ambiguous" : "safe")",
                    "delay_ms": "\(max(.zero, deadline - .now) / .milliseconds(1))", "error": "\(error)",
                ]
            )
        case .searchFailed(let failures, let error):
            metrics.reconciled(.failed)
            if failures == 1 || failures.isMultiple(of: 10) {
                logger.warning(
                    "Cannot search Chanjing's task list; the request waits until it can (\(failures) failed searches)",
                    metadata: Self.metadata(request.prepared).merging(["error": "\(error)"]) { $1 }
                )
            }
        case .earlierCallMayLand:
            break
        }
    }

    // MARK: - Results

    /// The request's result, logged.
    private func result(of ending: RequestLifecycle.Ending, request: Request) -> VideoResult {
        let prepared = request.prepared
        var metadata = Self.metadata(prepared)
        let source = VideoResult.Source(topic: prepared.message.topic, partition: prepared.message.partition, offset: prepared.message.offset)
        switch ending {
        case .rejected(let rejection, let requestID):
            metadata["error"] = "\(rejection.code.rawValue)"
            logger.info("Request rejected: \(rejection.field.map { "\($0): " } ?? "")\(rejection.message)", metadata: metadata)
            return VideoResult(
                requestID: requestID, status: .rejected, error: .init(code: rejection.code, message: rejection.message, field: rejection.field),
                source: source, attempts: 0
            )
        case .outcome(let outcome):
            if outcome.replayed {
                metrics.duplicateAvoided(.replayed)
                logger.info("Answered from the ledger; not submitted again", metadata: metadata.merging(["creation_id": "\(outcome.creationID ?? "")"]) { $1 })
            }
            if let creationID = outcome.creationID {
                metadata["creation_id"] = "\(creationID)"
                logger.info("Request submitted", metadata: metadata)
            } else {
                metadata["error"] = "\(outcome.error?.code.rawValue ?? "")"
                logger.warning("Request \(outcome.status.rawValue): \(outcome.error?.message ?? "")", metadata: metadata)
            }
            return VideoResult(
                requestID: prepared.decoded.requestID, status: outcome.status, creationID: outcome.creationID, error: outcome.error,
                source: source, attempts: outcome.attempts, retries: outcome.retries, chanjingTraceID: outcome.traceID,
                replayed: outcome.replayed ? true : nil, reconciled: outcome.reconciled ? true : nil
            )
        }
    }

    /// The log metadata naming a request.
    private static func metadata(_ prepared: Prepared) -> Logger.Metadata {
        let message = prepared.message
        var metadata: Logger.Metadata = [
            "request_id": "\(prepared.decoded.requestID)", "partition": "\(message.partition)", "offset": "\(message.offset)",
        ]
        // The W3C trace context travels to the result with the other headers; logs name it too.
        if let traceparent = message.headers.first(where: { $0.name == "traceparent" })?.value, traceparent.count <= 256 {
            metadata["traceparent"] = "\(String(decoding: traceparent, as: UTF8.self))"
        }
        return metadata
    }
}
