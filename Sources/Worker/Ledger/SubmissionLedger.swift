import Foundation
import Kafka
import Logging
import Synchronization

/// The submission ledger of the partitions this worker owns, kept in a compacted Kafka topic.
///
/// On assignment of requests partition p, ledger partition p is read from its start to its end
/// before any request of p is processed; from then on this worker is p's only writer and keeps
/// its copy up to date as it writes. Every write waits for Kafka's acknowledgement.
final class SubmissionLedger: Sendable {
    /// What the ledger knows of one partition.
    struct PartitionState: Sendable {
        /// The latest intent or outcome per request ID.
        var requests: [String: LedgerRecord] = [:]
        /// Creation IDs that belong to a request: outcomes and adoptions.
        var claimed: Set<String> = []

        mutating func apply(_ record: LedgerRecord) {
            switch record.kind {
            case .intent, .outcome: requests[record.requestID] = record
            case .adoption: break
            }
            if let creationID = record.creationID { claimed.insert(creationID) }
        }
    }

    private struct Slot {
        var load: Task<Void, any Error>
        var state = PartitionState()
        var loaded = false
    }

    let topic: String
    private let producer: KafkaProducer
    private let readerProperties: KafkaProperties
    private let loadTimeout: Duration
    private let logger: Logger
    private let slots = Mutex<[Int32: Slot]>([:])

    init(topic: String, producer: KafkaProducer, readerProperties: KafkaProperties, loadTimeout: Duration, logger: Logger) {
        self.topic = topic
        self.producer = producer
        self.readerProperties = readerProperties
        self.loadTimeout = loadTimeout
        self.logger = logger
    }

    /// Starts reading the ledger partitions of newly assigned requests partitions.
    func assigned(_ partitions: [Int32]) {
        for partition in partitions {
            let load = Task { try await self.load(partition) }
            let previous = slots.withLock { slots in
                defer { slots[partition] = Slot(load: load) }
                return slots[partition]
            }
            previous?.load.cancel()
        }
    }

    /// Forgets revoked partitions: their next owner reads them again.
    func revoked(_ partitions: [Int32]) {
        let gone = slots.withLock { slots in partitions.compactMap { slots.removeValue(forKey: $0) } }
        for slot in gone { slot.load.cancel() }
    }

    /// What the ledger says of a request.
    enum Lookup: Sendable {
        /// Its partition is no longer assigned here.
        case notAssigned
        /// Its latest intent or outcome, if any.
        case found(LedgerRecord?)
    }

    /// The latest record of `requestID` in `partition`, once the partition has been read.
    /// Throws when it cannot be read: the worker stops rather than submit blind, and its
    /// requests are redelivered.
    func lookup(_ requestID: String, partition: Int32) async throws(WorkerFailure) -> Lookup {
        guard let load = slots.withLock({ $0[partition]?.load }) else { return .notAssigned }
        do {
            try await load.value
        } catch {
            throw .ledgerUnavailable("cannot read ledger partition \(topic)[\(partition)]: \(error)")
        }
        // Only the one record leaves the lock: copying the partition's state would make every
        // later write copy it again.
        return slots.withLock { slots in slots[partition].map { .found($0.state.requests[requestID]) } ?? .notAssigned }
    }

    /// Whether `creationID` already belongs to a request of `partition` (an outcome or adoption).
    func isClaimed(_ creationID: String, partition: Int32) -> Bool {
        slots.withLock { $0[partition]?.state.claimed.contains(creationID) ?? false }
    }

    /// Writes `record` to ledger partition `partition` and waits for the acknowledgement.
    func write(_ record: LedgerRecord, partition: Int32) async throws(WorkerFailure) {
        let message = OutgoingMessage(topic: topic, partition: partition, key: Array(record.key.utf8), value: record.encoded())
        var failures = 0
        while true {
            do {
                try await producer.send(message)
                break
            } catch {
                if let fatal = producer.fatalError { throw .producerFailed(fatal) }
                failures += 1
                if Task.isCancelled || failures >= 5 { throw .ledgerUnavailable("cannot write to \(topic)[\(partition)]: \(error)") }
                logger.warning("Ledger write failed; writing again", metadata: ["partition": "\(partition)", "error": "\(error)"])
                try? await Task.sleep(for: .milliseconds(100 * (1 << failures)))
            }
        }
        slots.withLock { slots in
            guard slots[partition]?.loaded == true else { return }
            slots[partition]?.state.apply(record)
        }
    }

    private func load(_ partition: Int32) async throws {
        let started = ContinuousClock.now
        let ledgerPartition = TopicPartition(topic: topic, partition: partition)
        let offsets = try await ClusterInspector.watermarkOffsets(
            properties: readerProperties, partitions: [ledgerPartition], timeout: loadTimeout, logger: logger
        )
        let (low, high) = offsets[ledgerPartition] ?? (0, 0)
        let records = try await PartitionReader.read(
            [ledgerPartition: low..<high], properties: readerProperties, idle: loadTimeout, requireEnd: true, logger: logger
        )
        var state = PartitionState()
        for message in records {
            guard let record = LedgerRecord.decode(message.value) else {
                logger.warning("Skipping an unreadable ledger record", metadata: ["partition": "\(partition)", "offset": "\(message.offset)"])
                continue
            }
            state.apply(record)
        }
        try Task.checkCancellation()
        slots.withLock { slots in
            slots[partition]?.state = state
            slots[partition]?.loaded = true
        }
        logger.info(
            "Ledger partition read",
            metadata: ["partition": "\(partition)", "records": "\(records.count)", "requests": "\(state.requests.count)", "took": "\(ContinuousClock.now - started)"]
        )
    }
}
