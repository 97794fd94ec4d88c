import Foundation
import Kafka
import Testing
import TestSupport

@testable import Worker

@Suite("Ledger writes share round trips", .serialized)
struct LedgerWriterTests {
    @Test("concurrent entries of a partition go out in shared records, in order, and a new owner reads them all back", .timeLimit(.minutes(1)))
    func groupCommit() async throws {
        let kafka = try KafkaTestCluster(partitions: 2)
        let logger = TestLogging.logger("ledger")
        let producer = try KafkaProducer(properties: kafka.clientProperties, logger: logger)
        let writer = SubmissionLedger(topic: kafka.ledgerTopic, producer: producer, readerProperties: kafka.clientProperties, loadTimeout: .seconds(20), logger: logger)
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
            [TopicPartition(topic: kafka.ledgerTopic, partition: 1): 0..<Int64.max], properties: kafka.clientProperties, idle: .seconds(2), logger: logger
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
        let owner = SubmissionLedger(topic: kafka.ledgerTopic, producer: producer, readerProperties: kafka.clientProperties, loadTimeout: .seconds(20), logger: logger)
        owner.assigned([0, 1])
        guard case .found(let settled?) = try await owner.lookup("request-4", partition: 1),
            case .found(let pending?) = try await owner.lookup("request-5", partition: 1),
            case .found(let unknown) = try await owner.lookup("request-5", partition: 0)
        else {
            Issue.record("partitions 0 and 1 should be assigned and read")
            return
        }
        #expect(settled.kind == .outcome && settled.creationID == "task-4")
        #expect(pending.kind == .intent)
        #expect(unknown == nil)
        #expect(owner.isClaimed("task-4", partition: 1))
        await producer.shutdown()
        await kafka.shutdown()
    }
}
