import Foundation
import Kafka
import Logging
import Synchronization

/// The submission ledger of the partitions this worker owns, kept in a Kafka topic.
///
/// On assignment of requests partition p, ledger partition p is read from its start to its end
/// before any request of p is processed; from then on this worker is p's only writer and keeps
/// its copy up to date as it writes. Every write waits for Kafka's acknowledgement.
///
/// The copy holds what the topic holds: ``forgetDeleted()`` drops the entries whose records
/// retention has deleted, so a long-running worker's memory is bounded like a new owner's.
final class SubmissionLedger: Sendable {
    /// What the ledger knows of one partition. Each entry is kept with the offset of the Kafka
    /// record holding it.
    struct PartitionState: Sendable {
        /// The latest intent or outcome per request ID.
        var requests: [String: (entry: LedgerEntry, offset: Int64)] = [:]
        /// Creation IDs that belong to a request (outcomes and adoptions): the request ID and
        /// the offset of the record.
        var claimed: [String: (requestID: String, offset: Int64)] = [:]
        /// Entries of records below this offset are not held (never read, or forgotten).
        var logStart: Int64 = 0

        mutating func apply(_ entry: LedgerEntry, offset: Int64) {
            switch entry.kind {
            case .intent, .outcome: requests[entry.requestID] = (entry, offset)
            case .adoption: break
            }
            if let creationID = entry.creationID { claimed[creationID] = (entry.requestID, offset) }
        }

        /// Forgets the entries of records below `logStart`; returns how many.
        mutating func forget(below logStart: Int64) -> Int {
            guard logStart > self.logStart else { return 0 }
            self.logStart = logStart
            let before = requests.count
            requests = requests.filter { $0.value.offset >= logStart }
            claimed = claimed.filter { $0.value.offset >= logStart }
            return before - requests.count
        }
    }

    private struct Slot {
        var load: Task<Void, any Error>
        /// Which load fills this slot: a slot replaced meanwhile ignores an older load.
        var loadID: UInt64
        var state = PartitionState()
        var loaded = false
    }

    let topic: String
    private let writer: LedgerWriter
    private let readerProperties: KafkaProperties
    private let loadTimeout: Duration
    private let logger: Logger
    private let slots = Mutex<[Int32: Slot]>([:])
    private let nextLoadID = Mutex<UInt64>(0)

    init(topic: String, producer: KafkaProducer, readerProperties: KafkaProperties, loadTimeout: Duration, metrics: WorkerMetrics, logger: Logger) {
        self.topic = topic
        self.readerProperties = readerProperties
        self.loadTimeout = loadTimeout
        self.logger = logger
        writer = LedgerWriter(topic: topic, producer: producer, metrics: metrics, logger: logger)
    }

    /// Starts reading the ledger partitions of newly assigned requests partitions, all in one
    /// pass (one client for the offsets, one reader for the records).
    func assigned(_ partitions: [Int32]) {
        guard !partitions.isEmpty else { return }
        let id = nextLoadID.withLock { id in
            id += 1
            return id
        }
        let load = Task { try await self.load(partitions, id: id) }
        slots.withLock { slots in
            for partition in partitions { slots[partition] = Slot(load: load, loadID: id) }
        }
    }

    /// Forgets revoked partitions: their next owner reads them again.
    func revoked(_ partitions: [Int32]) {
        slots.withLock { slots in
            for partition in partitions { slots[partition] = nil }
        }
    }

    /// What the ledger says of a request.
    enum Lookup: Sendable {
        /// Its partition is no longer assigned here.
        case notAssigned
        /// Its latest intent or outcome, if any.
        case found(LedgerEntry?)
    }

    /// The latest record of `requestID` in `partition`, once the partition has been read.
    /// Throws when it cannot be read: the worker stops rather than submit blind, and its
    /// requests are redelivered.
    func lookup(_ requestID: String, partition: Int32) async throws(WorkerFailure) -> Lookup {
        guard let (load, loadID) = slots.withLock({ slots in slots[partition].map { ($0.load, $0.loadID) } }) else { return .notAssigned }
        do {
            try await load.value
        } catch {
            throw .ledgerUnavailable("cannot read ledger partition \(topic)[\(partition)]: \(error)")
        }
        // Only the one record leaves the lock: copying the partition's state would make every
        // later write copy it again. A partition revoked and assigned again meanwhile has a new
        // slot, maybe not read yet: this request belongs to the old assignment.
        return slots.withLock { slots in
            guard let slot = slots[partition], slot.loadID == loadID, slot.loaded else { return .notAssigned }
            return .found(slot.state.requests[requestID]?.entry)
        }
    }

    /// How many requests' entries this worker holds, over the partitions it owns.
    var entriesHeld: Int {
        slots.withLock { slots in slots.values.reduce(0) { $0 + $1.state.requests.count } }
    }

    /// Whether `creationID` already belongs to a request of `partition` other than `requestID`
    /// (by its outcome or adoption). A request's own adoption does not count: after a crash
    /// between its adoption and its outcome it must find and adopt the same task again.
    func isClaimed(_ creationID: String, byOtherThan requestID: String, partition: Int32) -> Bool {
        slots.withLock { slots in slots[partition]?.state.claimed[creationID].map { $0.requestID != requestID } ?? false }
    }

    /// Starts writing `entry` to ledger partition `partition`; concurrent writes to one
    /// partition share a round trip (``LedgerWriter``). The entry counts once acknowledged.
    func write(_ entry: LedgerEntry, partition: Int32) -> Write {
        Write(pending: writer.write(entry, partition: partition), entry: entry, partition: partition, ledger: self)
    }

    /// A ledger entry being written.
    struct Write: Sendable {
        fileprivate let pending: PendingWrite
        fileprivate let entry: LedgerEntry
        fileprivate let partition: Int32
        fileprivate let ledger: SubmissionLedger

        /// Returns once Kafka has acknowledged the entry, which this worker's copy of the ledger
        /// then holds; throws when it could not be written.
        func acknowledged() async throws(WorkerFailure) {
            let offset = try await pending.acknowledged()
            ledger.slots.withLock { slots in
                guard slots[partition]?.loaded == true else { return }
                slots[partition]?.state.apply(entry, offset: offset)
            }
        }
    }

    /// Forgets the entries whose records retention has deleted from the ledger partitions read
    /// here (those below each partition's log start): a new owner would not find them either.
    /// Returns how many were forgotten; when the offsets cannot be read, forgets nothing.
    @discardableResult
    func forgetDeleted() async -> Int {
        let partitions = slots.withLock { slots in slots.filter(\.value.loaded).map(\.key) }
        guard !partitions.isEmpty else { return 0 }
        let offsets: [TopicPartition: (low: Int64, high: Int64)]
        do {
            offsets = try await ClusterInspector.watermarkOffsets(
                properties: readerProperties, partitions: partitions.map { TopicPartition(topic: topic, partition: $0) }, timeout: loadTimeout, logger: logger
            )
        } catch {
            logger.warning("Cannot read the ledger's log start offsets; forgetting nothing until the next try", metadata: ["error": "\(error)"])
            return 0
        }
        // One partition at a time, so lookups of the others go on meanwhile.
        let forgotten = offsets.reduce(0) { count, item in
            count + slots.withLock { $0[item.key.partition]?.state.forget(below: item.value.low) ?? 0 }
        }
        if forgotten > 0 {
            logger.info("Forgot ledger entries that retention deleted from the topic", metadata: ["entries": "\(forgotten)"])
        }
        return forgotten
    }

    private func load(_ partitions: [Int32], id: UInt64) async throws {
        let started = ContinuousClock.now
        let ledgerPartitions = partitions.map { TopicPartition(topic: topic, partition: $0) }
        let offsets = try await ClusterInspector.watermarkOffsets(
            properties: readerProperties, partitions: ledgerPartitions, timeout: loadTimeout, logger: logger
        )
        var ranges: [TopicPartition: Range<Int64>] = [:]
        for partition in ledgerPartitions {
            let (low, high) = offsets[partition] ?? (0, 0)
            ranges[partition] = low..<max(low, high)
        }
        let records = try await PartitionReader.read(ranges, properties: readerProperties, idle: loadTimeout, requireEnd: true, logger: logger)
        var states: [Int32: PartitionState] = Dictionary(
            uniqueKeysWithValues: partitions.map { ($0, PartitionState(logStart: ranges[TopicPartition(topic: topic, partition: $0)]?.lowerBound ?? 0)) }
        )
        var entries = 0
        for message in records {
            guard let decoded = LedgerEntry.decode(message.value) else {
                logger.warning("Skipping an unreadable ledger record", metadata: ["partition": "\(message.partition)", "offset": "\(message.offset)"])
                continue
            }
            entries += decoded.count
            for entry in decoded { states[message.partition]?.apply(entry, offset: message.offset) }
        }
        slots.withLock { slots in
            for (partition, state) in states where slots[partition]?.loadID == id {
                slots[partition]?.state = state
                slots[partition]?.loaded = true
            }
        }
        logger.info(
            "Ledger partitions read",
            metadata: ["partitions": "\(partitions.sorted())", "records": "\(records.count)", "entries": "\(entries)", "took": "\(ContinuousClock.now - started)"]
        )
    }
}
