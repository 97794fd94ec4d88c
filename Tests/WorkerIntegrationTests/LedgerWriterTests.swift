import Foundation
import Kafka
import Synchronization
import Testing
import TestSupport

@testable import Ledger
@testable import Worker

@Suite("Ledger writes share round trips", .serialized)
struct LedgerWriterTests {
    static let logger = TestLogging.logger("ledger")

    /// Runs `body` within `seconds` with a mock cluster of `partitions` and a producer on it
    /// (with the tests' client properties unless `producerProperties` says otherwise); stops
    /// both, whether the test passed or not.
    static func withCluster(
        partitions: Int = 2, producerProperties: (@Sendable (KafkaTestCluster) -> KafkaProperties)? = nil, flushTimeout: Duration? = nil,
        within seconds: Double = 50, _ body: @escaping @Sendable (KafkaTestCluster, KafkaProducer) async throws -> Void
    ) async throws {
        let kafka = try KafkaTestCluster(partitions: partitions)
        let producer: KafkaProducer
        do {
            producer = try KafkaProducer(properties: producerProperties?(kafka) ?? kafka.clientProperties, logger: logger)
        } catch {
            await kafka.shutdown()
            throw error
        }
        try await withTimeout(seconds, "ledger test", thenStop: {
            if let flushTimeout { await producer.shutdown(flushTimeout: flushTimeout) } else { await producer.shutdown() }
            await kafka.shutdown()
        }) { try await body(kafka, producer) }
    }

    /// `chanjing_worker_ledger_records_read_total` in `metrics`.
    static func recordsRead(_ metrics: WorkerMetrics) -> Double? {
        prometheusValue("chanjing_worker_ledger_records_read_total", in: String(decoding: metrics.registry.emitToBuffer(), as: UTF8.self))
    }

    static func ledger(
        _ kafka: KafkaTestCluster, _ producer: KafkaProducer, metrics: WorkerMetrics = WorkerMetrics(), loadTimeout: Duration = .seconds(20),
        memoryLimit: LedgerMemoryLimit = .standard, warningsTo log: LogSink? = nil, loadRead: (@Sendable (Int32) async -> Void)? = nil
    ) -> SubmissionLedger {
        SubmissionLedger(
            topic: kafka.ledgerTopic, producer: producer, readerProperties: kafka.clientProperties, loadTimeout: loadTimeout, memoryLimit: memoryLimit,
            metrics: metrics.makeLedgerMetrics(),
            logger: log.map { TestLogging.capturing($0, level: .warning) } ?? logger, loadRead: loadRead
        )
    }

    /// Holds a ledger's load at the partitions `holds` picks (through its `loadRead` hook) until
    /// the test releases it.
    final class LoadGate: Sendable {
        private let holds: @Sendable (Int32) -> Bool
        private let reachedStream: AsyncStream<Void>
        private let reachedSignal: AsyncStream<Void>.Continuation
        private let releaseStream: AsyncStream<Void>
        private let releaseSignal: AsyncStream<Void>.Continuation

        init(holding holds: @escaping @Sendable (Int32) -> Bool) {
            self.holds = holds
            (reachedStream, reachedSignal) = AsyncStream.makeStream(of: Void.self)
            (releaseStream, releaseSignal) = AsyncStream.makeStream(of: Void.self)
        }

        /// The ledger's `loadRead` hook.
        @Sendable func loadRead(_ partition: Int32) async {
            guard holds(partition) else { return }
            reachedSignal.yield()
            for await _ in releaseStream { break }
        }

        /// Returns once the load is held.
        func reached() async {
            for await _ in reachedStream { break }
        }

        func release() {
            releaseSignal.yield()
        }
    }

    static func outcome(_ id: String) -> LedgerEntry {
        LedgerEntry(kind: .outcome, requestID: id, bodyHash: "h", at: LedgerEntry.now(), status: .submitted, creationID: "task-\(id)", attempts: 1)
    }

    @Test("concurrent entries of a partition go out in shared records, in order, and a new owner reads them all back", .timeLimit(.minutes(1)))
    func groupCommit() async throws {
        try await Self.withCluster { kafka, producer in
            let writer = Self.ledger(kafka, producer)
            writer.assigned([1])
            let ids = (0..<300).map { "request-\($0)" }
            // Intents all at once, then an outcome for every other request.
            let intents = ids.map { writer.write(LedgerEntry(kind: .intent, requestID: $0, bodyHash: "h", at: LedgerEntry.now()), partition: 1) }
            for intent in intents { try await intent.acknowledged() }
            let outcomes = ids.enumerated().filter { $0.offset.isMultiple(of: 2) }.map { index, id in
                writer.write(
                    LedgerEntry(kind: .outcome, requestID: id, bodyHash: "h", at: LedgerEntry.now(), status: .submitted, creationID: "task-\(index)", attempts: 1),
                    partition: 1
                )
            }
            for outcome in outcomes { try await outcome.acknowledged() }

            let records = try await PartitionReader.read(
                [TopicPartition(topic: kafka.ledgerTopic, partition: 1): 0..<Int64.max], properties: kafka.clientProperties, idle: .seconds(2), logger: Self.logger
            )
            let entries = records.flatMap { LedgerEntry.decode($0.value) ?? [] }
            #expect(entries.count == 450)
            #expect(records.count < 100, "\(records.count) Kafka records for 450 entries: writes in flight together should share records")
            #expect(Set(records.compactMap(\.key)).count == records.count, "every ledger record has a key of its own")
            for id in ids.prefix(10) {
                let kinds = entries.filter { $0.requestID == id }.map(\.kind)
                #expect(kinds.first == .intent, "\(id): \(kinds)")
            }

            // Another worker taking partition 1 over sees the latest entry of each request.
            let owner = Self.ledger(kafka, producer)
            owner.assigned([0, 1])
            guard case .found(let settled) = try await owner.lookup("request-4", partition: 1),
                case .found(let pending) = try await owner.lookup("request-5", partition: 1),
                case .absent = try await owner.lookup("request-5", partition: 0)
            else {
                Issue.record("partitions 0 and 1 should be assigned and read")
                return
            }
            #expect(settled.kind == .outcome && settled.creationID == "task-4")
            #expect(pending.kind == .intent)
            #expect(owner.isClaimed("task-4", byOtherThan: "request-5", partition: 1))
            #expect(!owner.isClaimed("task-4", byOtherThan: "request-4", partition: 1), "a request's own task is not claimed against it")
        }
    }

    @Test("entries whose records retention deleted are forgotten; later ones are kept", .timeLimit(.minutes(1)))
    func forgetsDeletedEntries() async throws {
        try await Self.withCluster { kafka, producer in
            let ledger = Self.ledger(kafka, producer)
            ledger.assigned([0, 1])
            func record(_ id: String, partition: Int32) async throws {
                try await ledger.write(
                    LedgerEntry(kind: .outcome, requestID: id, bodyHash: "h", at: LedgerEntry.now(), status: .submitted, creationID: "task-\(id)", attempts: 1),
                    partition: partition
                ).acknowledged()
            }
            try await record("old", partition: 0)
            try await record("other", partition: 1)
            #expect(await ledger.forgetDeleted() == 0, "nothing is deleted yet")

            // Retention stands-in: the mock broker keeps about 5 MiB per partition and deletes the
            // oldest records beyond that, moving the log start past "old" as retention would.
            let filler = [UInt8](repeating: UInt8(ascii: "x"), count: 200_000)
            for _ in 0..<40 {
                try await producer.send(OutgoingMessage(topic: kafka.ledgerTopic, partition: 0, key: nil, value: filler))
            }
            try await record("new", partition: 0)

            #expect(await ledger.forgetDeleted() == 1)
            #expect(try await ledger.lookup("old", partition: 0).entry == nil)
            #expect(!ledger.isClaimed("task-old", byOtherThan: "new", partition: 0))
            #expect(try await ledger.lookup("new", partition: 0).entry?.creationID == "task-new")
            #expect(try await ledger.lookup("other", partition: 1).entry?.creationID == "task-other", "an untouched partition keeps its entries")
            #expect(await ledger.forgetDeleted() == 0, "what was forgotten is not counted again")
        }
    }

    @Test(
        "past its memory limit the ledger compacts its oldest requests and reads them back when they come again, then forgets the oldest; a new owner holds as little",
        .timeLimit(.minutes(1))
    )
    func boundedMemory() async throws {
        try await Self.withCluster { kafka, producer in
            // 200 requests in full (100,000 bytes at 500), 1,388 compacted (at 72).
            let limit = LedgerMemoryLimit(uncheckedBytes: 200_000)
            let metrics = WorkerMetrics()
            let ledger = Self.ledger(kafka, producer, metrics: metrics, memoryLimit: limit)
            ledger.assigned([0])
            // Batches of 50: entries of one record are compacted together, and a record holds
            // at most the entries written together (about 11 per record in benchmark scenario 1).
            for batch in stride(from: 0, to: 3_000, by: 50) {
                let writes = (batch..<batch + 50).map { ledger.write(Self.outcome("request-\($0)"), partition: 0) }
                for write in writes { try await write.acknowledged() }
            }
            func value(_ name: String) -> Double? {
                prometheusValue(name, in: String(decoding: metrics.registry.emitToBuffer(), as: UTF8.self))
            }
            ledger.sampleMetrics()
            #expect(ledger.entriesHeld <= 200 && ledger.entriesCompacted <= 1_388, "\(ledger.entriesHeld) in full, \(ledger.entriesCompacted) compacted")
            #expect((value("chanjing_worker_ledger_memory_bytes") ?? .infinity) <= 200_000)
            #expect(value("chanjing_worker_ledger_memory_limit_bytes") == 200_000)
            #expect((value("chanjing_worker_ledger_entries_dropped_total") ?? 0) >= 1_400)

            // The newest are held in full; request-2300 (700 from the newest) is compacted
            // whatever the last compaction left, and read back; request-0 is forgotten: it would
            // be submitted again.
            #expect(try await ledger.lookup("request-2999", partition: 0).entry?.creationID == "task-request-2999")
            #expect(value("chanjing_worker_ledger_read_backs_total") == 0)
            #expect(try await ledger.lookup("request-2300", partition: 0).entry?.creationID == "task-request-2300")
            #expect(value("chanjing_worker_ledger_read_backs_total") == 1)
            #expect(try await ledger.lookup("request-0", partition: 0).entry == nil)

            // A request compacted and written again is held in full with its new entry.
            try await ledger.write(LedgerEntry(kind: .intent, requestID: "request-2300", bodyHash: "h", at: LedgerEntry.now()), partition: 0).acknowledged()
            #expect(try await ledger.lookup("request-2300", partition: 0).entry?.kind == .intent)
            #expect(value("chanjing_worker_ledger_read_backs_total") == 1)

            // A new owner reads the whole partition and keeps within the same bound.
            let owner = Self.ledger(kafka, producer, memoryLimit: limit)
            owner.assigned([0])
            #expect(try await owner.lookup("request-2500", partition: 0).entry?.creationID == "task-request-2500")
            #expect(owner.entriesHeld <= 200 && owner.entriesCompacted <= 1_388, "\(owner.entriesHeld) in full, \(owner.entriesCompacted) compacted")
            #expect(try await owner.lookup("request-0", partition: 0).entry == nil)
        }
    }

    @Test("a new owner reading a ledger larger than its memory limit keeps within it while it reads, not only once it is read", .timeLimit(.minutes(1)))
    func boundedWhileLoading() async throws {
        try await Self.withCluster(partitions: 1) { kafka, producer in
            let writer = Self.ledger(kafka, producer)
            writer.assigned([0])
            // One record each: 2,500 records, read in three parts of at most 1,000.
            for index in 0..<2_500 {
                try await writer.write(Self.outcome("request-\(index)"), partition: 0).acknowledged()
            }
            let warnings = LogSink()
            let owner = Self.ledger(kafka, producer, memoryLimit: LedgerMemoryLimit(uncheckedBytes: 200_000), warningsTo: warnings)
            owner.assigned([0])
            #expect(try await owner.lookup("request-2499", partition: 0).entry?.creationID == "task-request-2499")
            #expect(owner.entriesHeld <= 200 && owner.entriesCompacted <= 1_388, "\(owner.entriesHeld) in full, \(owner.entriesCompacted) compacted")
            // 200 in full and 1,388 compacted: the first two parts (2,000 requests) pass the
            // compacted half once, the last one again when the partition is served.
            let drops = warnings.all.filter { $0.contains("Dropped the oldest compacted ledger entries") }
            #expect(drops.count >= 2, "dropped while reading, not only once read: \(drops)")
            #expect(try await owner.lookup("request-2000", partition: 0).entry?.creationID == "task-request-2000", "compacted while read, read back")
        }
    }

    @Test("a write that fails is written again; one that keeps failing fails its writers with ledgerUnavailable", .timeLimit(.minutes(1)))
    func failedWrites() async throws {
        // Deliveries fail after 1 s while the broker is down, instead of the tests' usual 20 s.
        // librdkafka notices a timed-out record between reconnect attempts: at the default 10 s
        // reconnect back-off the five attempts below took about 40 s instead of about 9 s.
        let properties: @Sendable (KafkaTestCluster) -> KafkaProperties = { kafka in
            kafka.clientProperties.merging(
                KafkaProperties(["message.timeout.ms": "1000", "enable.idempotence": "true", "acks": "all", "reconnect.backoff.max.ms": "200"])
            )
        }
        try await Self.withCluster(producerProperties: properties, flushTimeout: .seconds(5)) { kafka, producer in
            let log = LogSink()
            let ledger = Self.ledger(kafka, producer, warningsTo: log)
            ledger.assigned([0])
            func intent(_ id: String) -> PendingWrite {
                ledger.write(LedgerEntry(kind: .intent, requestID: id, bodyHash: "h", at: LedgerEntry.now()), partition: 0)
            }
            try await intent("before").acknowledged()

            // Down for about 2 s: the first attempts time out, a later one is acknowledged.
            kafka.cluster.setBroker(1, up: false)
            let retried = intent("retried")
            try await Task.sleep(for: .seconds(2))
            kafka.cluster.setBroker(1, up: true)
            try await retried.acknowledged()
            #expect(log.all.contains { $0.contains("Ledger write failed; writing again") }, "the write should have failed at least once")
            #expect(try await ledger.lookup("retried", partition: 0).entry?.kind == .intent)

            // Down for good: five attempts (about 1 s each, then 0.2 to 1.6 s apart), then an error.
            kafka.cluster.setBroker(1, up: false)
            do throws(LedgerError) {
                try await intent("lost").acknowledged()
                Issue.record("a write Kafka never acknowledged succeeded")
            } catch {
                guard case .unavailable = error else { throw error }
            }
            #expect(try await ledger.lookup("lost", partition: 0).entry == nil, "an entry Kafka never acknowledged is not remembered")
            kafka.cluster.setBroker(1, up: true)
        }
    }

    @Test("a lookup waiting on a load while its partition is revoked and assigned again answers notAssigned, not the new unread state", .timeLimit(.minutes(1)))
    func lookupAcrossReassignment() async throws {
        try await Self.withCluster(flushTimeout: .seconds(5)) { kafka, producer in
            let ledger = Self.ledger(kafka, producer)
            ledger.assigned([0])
            try await ledger.write(LedgerEntry(kind: .intent, requestID: "seen", bodyHash: "h", at: LedgerEntry.now()), partition: 0).acknowledged()
            ledger.revoked([0])

            // Slow answers hold the next load in progress while the partition moves away and back.
            kafka.cluster.setRoundTripTime(broker: 1, .milliseconds(700))
            ledger.assigned([0])
            let waiting = Task { try await ledger.lookup("seen", partition: 0) }
            try await Task.sleep(for: .milliseconds(200))
            ledger.revoked([0])
            ledger.assigned([0])
            kafka.cluster.setRoundTripTime(broker: 1, .zero)

            guard case .notAssigned = try await waiting.value else {
                Issue.record("a lookup from the earlier assignment must not answer from the new one's state")
                return
            }
            // A lookup of the current assignment waits for its load and finds the entry.
            #expect(try await ledger.lookup("seen", partition: 0).entry?.kind == .intent)
        }
    }

    @Test("a partition assigned back is read only from where its copy ends, including what another writer added; one not assigned back is read in full", .timeLimit(.minutes(1)))
    func keepsCopyAcrossReassignment() async throws {
        let metrics = WorkerMetrics()
        try await Self.withCluster { kafka, producer in
            let ledger = Self.ledger(kafka, producer, metrics: metrics)
            ledger.assigned([0, 1])
            // Let the (empty) loads finish first: a write landing while a load reads would be counted.
            for partition: Int32 in [0, 1] { _ = try await ledger.lookup("nothing yet", partition: partition) }
            for index in 0..<20 { try await ledger.write(Self.outcome("a\(index)"), partition: 0).acknowledged() }
            try await ledger.write(Self.outcome("b"), partition: 1).acknowledged()
            #expect(Self.recordsRead(metrics) == 0, "both partitions were empty")
            ledger.revoked([0, 1])

            // Meanwhile another worker owns partition 0: it reads all 20 records and adds one.
            let other = Self.ledger(kafka, producer)
            other.assigned([0])
            #expect(try await other.lookup("a3", partition: 0).entry?.creationID == "task-a3")
            try await other.write(Self.outcome("c"), partition: 0).acknowledged()
            other.revoked([0])

            ledger.assigned([0])
            #expect(try await ledger.lookup("c", partition: 0).entry?.creationID == "task-c", "what the other writer added is read")
            #expect(try await ledger.lookup("a7", partition: 0).entry?.creationID == "task-a7", "the kept copy still answers")
            #expect(Self.recordsRead(metrics) == 1, "only the record written since the revocation is read")
            guard case .notAssigned = try await ledger.lookup("b", partition: 1) else {
                Issue.record("partition 1 is not assigned")
                return
            }

            // Partition 1's copy was dropped by the assignment that did not give it back.
            ledger.revoked([0])
            ledger.assigned([1])
            #expect(try await ledger.lookup("b", partition: 1).entry?.creationID == "task-b")
            #expect(Self.recordsRead(metrics) == 2)
        }
    }

    @Test("a write acknowledged after its partition was revoked is kept with the partition's copy", .timeLimit(.minutes(1)))
    func lateAcknowledgementKept() async throws {
        let metrics = WorkerMetrics()
        try await Self.withCluster(partitions: 1) { kafka, producer in
            let ledger = Self.ledger(kafka, producer, metrics: metrics)
            ledger.assigned([0])
            try await ledger.write(Self.outcome("first"), partition: 0).acknowledged()
            // Read before it is revoked: a partition revoked while still being read keeps no
            // copy (its next owner reads it), which is not what this test is about.
            #expect(try await ledger.lookup("first", partition: 0).entry?.creationID == "task-first")

            kafka.cluster.setRoundTripTime(broker: 1, .milliseconds(500))
            let late = ledger.write(Self.outcome("late"), partition: 0)
            ledger.revoked([0])
            try await late.acknowledged()
            kafka.cluster.setRoundTripTime(broker: 1, .zero)

            // The first load may have read "first" too, when it asked for the partition's end
            // after that write was acknowledged (a slow start): only this load's reads count.
            let readBefore = Self.recordsRead(metrics) ?? 0
            ledger.assigned([0])
            #expect(try await ledger.lookup("late", partition: 0).entry?.creationID == "task-late")
            #expect(try await ledger.lookup("first", partition: 0).entry?.creationID == "task-first")
            #expect(Self.recordsRead(metrics) ?? 0 == readBefore, "both records are in the kept copy: nothing to read")
        }
    }

    @Test("a write acknowledged while its partition is being read is held once the read ends, and the next read starts after it", .timeLimit(.minutes(1)))
    func writtenDuringLoad() async throws {
        let metrics = WorkerMetrics()
        try await Self.withCluster(partitions: 1) { kafka, producer in
            // The first load stops after reading its records (none) until the test lets it go on.
            let paused = Atomic(false)
            let gate = LoadGate { _ in !paused.exchange(true, ordering: .relaxed) }
            let ledger = Self.ledger(kafka, producer, metrics: metrics, loadRead: gate.loadRead)
            ledger.assigned([0])
            await gate.reached()
            // Offset 0 is past what the paused load read: only the write's acknowledgement tells the ledger.
            let offset = try await ledger.write(Self.outcome("during"), partition: 0).acknowledged()
            #expect(offset == 0)
            gate.release()
            #expect(try await ledger.lookup("during", partition: 0).entry?.creationID == "task-during")

            // Another worker adds a record while the partition is away; assigned back, the ledger
            // reads from after the record written during the load, so it reads one record, not two.
            ledger.revoked([0])
            let other = Self.ledger(kafka, producer)
            other.assigned([0])
            try await other.write(Self.outcome("after"), partition: 0).acknowledged()
            other.revoked([0])
            ledger.assigned([0])
            #expect(try await ledger.lookup("after", partition: 0).entry?.creationID == "task-after")
            #expect(try await ledger.lookup("during", partition: 0).entry?.creationID == "task-during")
            #expect(Self.recordsRead(metrics) == 1)
        }
    }

    @Test("each partition of a load is served once it is read: a kept copy answers while another partition is still being read", .timeLimit(.minutes(1)))
    func partitionsServedAsRead() async throws {
        try await Self.withCluster { kafka, producer in
            // The load holds partition 1 (read in full) until the test lets it go on.
            let hold = Atomic(false)
            let gate = LoadGate { partition in partition == 1 && hold.load(ordering: .relaxed) }
            let ledger = Self.ledger(kafka, producer, loadRead: gate.loadRead)
            // Partition 0 is held here and kept across the revocation; partition 1 is written by
            // another worker, so this one must read it.
            ledger.assigned([0])
            try await ledger.write(Self.outcome("kept"), partition: 0).acknowledged()
            ledger.revoked([0])
            let other = Self.ledger(kafka, producer)
            other.assigned([1])
            try await other.write(Self.outcome("read"), partition: 1).acknowledged()
            other.revoked([1])

            hold.store(true, ordering: .relaxed)
            ledger.assigned([0, 1])
            await gate.reached()
            // Partition 1 is read but not served: partition 0 answers meanwhile (a lookup that
            // waited for the whole load would wait forever here).
            let kept = try await withTimeout(10, "a lookup of the kept partition while another is held") {
                try await ledger.lookup("kept", partition: 0).entry?.creationID
            }
            #expect(kept == "task-kept")
            let read = Task { try await ledger.lookup("read", partition: 1).entry?.creationID }
            try await Task.sleep(for: .milliseconds(100))
            gate.release()
            #expect(try await read.value == "task-read")
        }
    }

    @Test("when a load fails, the lookups of its partitions fail with ledgerUnavailable", .timeLimit(.minutes(1)))
    func failedLoad() async throws {
        try await Self.withCluster(flushTimeout: .seconds(5)) { kafka, producer in
            let ledger = Self.ledger(kafka, producer, loadTimeout: .seconds(2))
            kafka.cluster.setBroker(1, up: false)
            ledger.assigned([0, 1])
            for partition: Int32 in [0, 1] {
                do throws(LedgerError) {
                    _ = try await ledger.lookup("any", partition: partition)
                    Issue.record("a lookup of partition \(partition) answered although its ledger partition could not be read")
                } catch {
                    guard case .unavailable = error else {
                        Issue.record("expected unavailable, got \(error)")
                        continue
                    }
                }
            }
            kafka.cluster.setBroker(1, up: true)
        }
    }

    @Test("an entry never replaces a later one of the same request, whatever the order records are applied in")
    func applyIsOrderIndependent() {
        var state = SubmissionLedger.PartitionState()
        state.apply(Self.outcome("r"), offset: 7)
        state.apply(LedgerEntry(kind: .intent, requestID: "r", bodyHash: "h", at: LedgerEntry.now()), offset: 3)
        #expect(state.requests[RequestKey("r")]?.kind == .outcome)
        #expect(state.requests[RequestKey("r")]?.offset == 7)
        state.apply(LedgerEntry(kind: .adoption, requestID: "s", bodyHash: "h", at: LedgerEntry.now(), creationID: "task-r"), offset: 2)
        #expect(state.claimed[HeldText("task-r")]?.request == RequestKey("r"), "an older adoption does not take over a later claim")
        state.applyWritten([Self.outcome("t")], offset: 0)
        #expect(state.end == 1)
        state.applyWritten([Self.outcome("u")], offset: 5)
        #expect(state.end == 1, "records 1 to 4 were written elsewhere and are still to be read")
    }
}

extension SubmissionLedger.Lookup {
    /// The entry found, nil when none was or the partition is not assigned.
    fileprivate var entry: LedgerEntry? {
        if case .found(let entry) = self { return entry }
        return nil
    }
}
