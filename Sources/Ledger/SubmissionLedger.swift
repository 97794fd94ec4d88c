import Foundation
import Kafka
import Logging
import Primitives
import Synchronization

/// The submission ledger of the partitions this worker owns, kept in a Kafka topic.
///
/// On assignment of requests partition p, ledger partition p is read to its end before any
/// request of p is processed (each partition as soon as it is read, not when the whole
/// assignment is); from then on this worker is p's only writer and keeps its copy up to date as
/// its writes are acknowledged. Every write waits for Kafka's acknowledgement.
///
/// A partition revoked and assigned back (every rebalance of the default eager protocol does
/// that) is not read again from its start: the copy is kept from the revocation to the next
/// assignment, and only the records written since are read on top of it.
///
/// The copy holds what the topic holds: ``forgetDeleted()`` drops the entries whose records
/// retention has deleted, so a long-running worker's memory is bounded like a new owner's.
public final class SubmissionLedger: Sendable {
    /// What the ledger knows of one partition. Each entry is kept with the offset of the Kafka
    /// record holding it.
    struct PartitionState: Sendable {
        /// The latest intent or outcome per request, by its ID's key.
        var requests: [RequestKey: HeldEntry] = [:]
        /// Creation IDs that belong to a request (outcomes and adoptions): the request and the
        /// offset of the record.
        var claimed: [HeldText: (request: RequestKey, offset: Int64)] = [:]
        /// The submitted tasks still to follow to their end, by their request's key.
        var following: [RequestKey: HeldFollow] = [:]
        /// Requests whose latest entry is no longer held in full, to bound memory
        /// (``LedgerMemoryLimit``): the offset of the record holding it, to read it back from.
        var compacted: [RequestKey: Int64] = [:]
        /// Entries of records below this offset are not held (never read, or forgotten).
        var logStart: Int64 = 0
        /// Every record from `logStart` up to this offset has been applied (read, or written
        /// here): a partition assigned back is read from here.
        var end: Int64 = 0

        /// Applies the entry of the record at `offset`. Records may be applied out of order (a
        /// partition assigned back reads records older than some written here): an entry never
        /// replaces a later one of the same request.
        mutating func apply(_ entry: LedgerEntry, offset: Int64) {
            let key = RequestKey(entry.requestID)
            var held: HeldEntry?
            switch entry.kind {
            case .intent, .outcome:
                if let earlier = requests[key], earlier.offset > offset { break }
                if !compacted.isEmpty, let earlier = compacted[key] {
                    if earlier > offset { break }
                    compacted[key] = nil
                }
                held = HeldEntry(entry, offset: offset)
                requests[key] = held
                if let follow = HeldFollow(entry, offset: offset) {
                    following[key] = follow
                } else if !following.isEmpty {
                    following[key] = nil  // completed
                }
            case .adoption: break
            }
            // An outcome's claim reuses the creation ID just held instead of converting it again.
            if let creationID = held?.outcome?.creationID ?? entry.creationID.map(HeldText.init), claimed[creationID].map({ $0.offset <= offset }) ?? true {
                claimed[creationID] = (key, offset)
            }
        }

        /// Applies the entries of the record at `offset` written here, and moves `end` past it
        /// when it is the next record (another writer's records in between are read later).
        mutating func applyWritten(_ entries: [LedgerEntry], offset: Int64) {
            for entry in entries { apply(entry, offset: offset) }
            if offset == end { end = offset + 1 }
        }

        /// Forgets the entries of records below `logStart`; returns how many.
        mutating func forget(below logStart: Int64) -> Int {
            guard logStart > self.logStart else { return 0 }
            self.logStart = logStart
            end = max(end, logStart)
            let before = requests.count
            requests = requests.filter { $0.value.offset >= logStart }
            claimed = claimed.filter { $0.value.offset >= logStart }
            following = following.filter { $0.value.offset >= logStart }
            let compactedBefore = compacted.count
            compacted = compacted.filter { $0.value >= logStart }
            return before - requests.count + compactedBefore - compacted.count
        }

        /// Compacts the oldest requests held in full, leaving `keeping` of those that may be
        /// compacted (outcomes of tasks not being followed; more when the oldest of them shares
        /// its record with one compacted); returns how many it compacted. Their claims go with
        /// them: a task that old is older than any a search for a request in flight considers.
        mutating func compact(keeping: Int) -> Int {
            var offsets = requests.compactMap { key, held in held.outcome != nil && following[key] == nil ? held.offset : nil }
            guard offsets.count > keeping else { return 0 }
            offsets.sort()
            // Entries of one record share its offset: they are kept or compacted together.
            let oldestKept = keeping == 0 ? Int64.max : offsets[offsets.count - keeping]
            let keys = requests.compactMap { key, held in held.offset < oldestKept && held.outcome != nil && following[key] == nil ? key : nil }
            for key in keys {
                compacted[key] = requests.removeValue(forKey: key)?.offset
            }
            claimed = claimed.filter { $0.value.offset >= oldestKept || requests[$0.value.request] != nil }
            return keys.count
        }

        /// Drops the oldest compacted requests, leaving at most `keeping` (more when the
        /// newest of those dropped shares its record with one kept); returns how many it
        /// dropped. They are then unknown here, as if retention had deleted their records.
        mutating func dropCompacted(keeping: Int) -> Int {
            guard compacted.count > keeping else { return 0 }
            let oldestKept = keeping == 0 ? Int64.max : compacted.values.sorted()[compacted.count - keeping]
            let before = compacted.count
            compacted = compacted.filter { $0.value >= oldestKept }
            return before - compacted.count
        }

        /// Keeps a partition still being read within its share of `limit`, one of the `sharing`
        /// partitions of its load, so that a new owner reading a ledger larger than the limit
        /// never holds more than the limit either.
        mutating func bound(within limit: LedgerMemoryLimit, sharing: Int) -> Bounded {
            var bounded = Bounded()
            let fullShare = limit.fullEntries(followed: following.count) / max(1, sharing)
            if requests.count - following.count > fullShare {
                bounded.compacted = compact(keeping: fullShare * 3 / 4)
            }
            let compactedShare = limit.compactedEntries / max(1, sharing)
            if compacted.count > compactedShare {
                bounded.dropped = dropCompacted(keeping: compactedShare * 3 / 4)
            }
            return bounded
        }
    }

    /// What keeping within the memory limit compacted and dropped.
    struct Bounded {
        var compacted = 0
        var dropped = 0
    }

    /// Whether a partition has been read, or why it could not be.
    private typealias Readiness = Promise<Result<Void, any Error>>

    private struct Slot {
        /// Set once the partition is read, or its load failed: its lookups wait for it.
        var ready: Readiness
        /// Which load fills this slot: a slot replaced meanwhile ignores an older load.
        var loadID: UInt64
        var state = PartitionState()
        var loaded = false
        /// What was held of the partition before its revocation: the load takes it and reads
        /// only the records after it.
        var kept: PartitionState?
        /// Records written here and acknowledged while the slot loads, applied once it has.
        var writtenDuringLoad: [(entries: [LedgerEntry], offset: Int64)] = []
    }

    /// The partitions held here. A class, so that the writer's delivery reports reach it.
    private final class Holdings: Sendable {
        struct State {
            var slots: [Int32: Slot] = [:]
            /// What was held of the partitions revoked since the last assignment.
            var revoked: [Int32: PartitionState] = [:]
            var nextLoadID: UInt64 = 0
        }
        let state = Mutex(State())
        let limit: LedgerMemoryLimit
        let metrics: LedgerMetrics
        let logger: Logger

        init(limit: LedgerMemoryLimit, metrics: LedgerMetrics, logger: Logger) {
            (self.limit, self.metrics, self.logger) = (limit, metrics, logger)
        }

        /// A record written here was acknowledged at `offset`: its entries are held before its
        /// writers resume. Called in offset order per partition (one record in flight).
        func written(_ entries: [LedgerEntry], offset: Int64, partition: Int32) {
            let bounded = state.withLock { state in
                if state.slots[partition]?.loaded == true {
                    state.slots[partition]?.state.applyWritten(entries, offset: offset)
                } else if state.slots[partition] != nil {
                    state.slots[partition]?.writtenDuringLoad.append((entries, offset))
                } else {
                    // Written before a revocation, acknowledged after: kept with the partition.
                    state.revoked[partition]?.applyWritten(entries, offset: offset)
                }
                return Self.bound(&state, within: limit)
            }
            report(bounded)
        }

        /// Keeps what the partitions served here hold within `limit` (see ``LedgerMemoryLimit``):
        /// each partition compacts, then drops, down to its share of three quarters of the
        /// bound, so that the next writes do not pass it again at once.
        static func bound(_ state: inout State, within limit: LedgerMemoryLimit) -> Bounded {
            // Counted and changed in place: a copy of a partition's state would make the change
            // copy its dictionaries.
            var (full, followed, compacted) = (0, 0, 0)
            for slot in state.slots.values where slot.loaded {
                (full, followed, compacted) = (full + slot.state.requests.count, followed + slot.state.following.count, compacted + slot.state.compacted.count)
            }
            var bounded = Bounded()
            let served = state.slots.keys.filter { state.slots[$0]!.loaded }
            let fullLimit = limit.fullEntries(followed: followed)
            if full - followed > fullLimit {
                for partition in served {
                    let share = state.slots[partition]!.state.requests.count * (fullLimit * 3 / 4) / full
                    bounded.compacted += state.slots[partition]!.state.compact(keeping: share)
                }
                compacted += bounded.compacted
            }
            if compacted > limit.compactedEntries {
                for partition in served {
                    let share = state.slots[partition]!.state.compacted.count * (limit.compactedEntries * 3 / 4) / compacted
                    bounded.dropped += state.slots[partition]!.state.dropCompacted(keeping: share)
                }
            }
            return bounded
        }

        func report(_ bounded: Bounded) {
            if bounded.compacted > 0 {
                logger.info("Compacted the oldest ledger entries held, to stay within --ledger-memory", metadata: ["entries": "\(bounded.compacted)"])
            }
            if bounded.dropped > 0 {
                metrics.dropped(entries: bounded.dropped)
                logger.warning(
                    "Dropped the oldest compacted ledger entries to stay within --ledger-memory: the ledger now remembers less than its topic keeps, and such a request is submitted again if it comes back; raise --ledger-memory (and the memory limit) or shorten the ledger's retention",
                    metadata: ["entries": "\(bounded.dropped)"]
                )
            }
        }

        /// What is held over the partitions served here: requests in full, tasks followed,
        /// requests compacted.
        var counts: (full: Int, followed: Int, compacted: Int) {
            state.withLock { state in
                state.slots.values.reduce(into: (0, 0, 0)) { counts, slot in
                    counts.0 += slot.state.requests.count
                    counts.1 += slot.state.following.count
                    counts.2 += slot.state.compacted.count
                }
            }
        }
    }

    /// Ledger records read and applied at a time on assignment.
    static let loadPartSize = 1_000

    public let topic: String
    private let writer: LedgerWriter
    private let readerProperties: KafkaProperties
    private let loadTimeout: Duration
    private let metrics: LedgerMetrics
    private let logger: Logger
    private let holdings: Holdings
    /// For tests: awaited once a load has read a partition's records, before the partition is
    /// served with them and the records written here meanwhile.
    private let loadRead: (@Sendable (_ partition: Int32) async -> Void)?

    /// A ledger kept in `topic`, written through `producer` and read with clients made of
    /// `readerProperties`; reads and offset queries give up after `loadTimeout`. What it holds
    /// stays within `memoryLimit`.
    public init(
        topic: String, producer: KafkaProducer, readerProperties: KafkaProperties, loadTimeout: Duration, memoryLimit: LedgerMemoryLimit = .standard,
        metrics: LedgerMetrics, logger: Logger, loadRead: (@Sendable (_ partition: Int32) async -> Void)? = nil
    ) {
        self.topic = topic
        self.loadRead = loadRead
        self.readerProperties = readerProperties
        self.loadTimeout = loadTimeout
        self.metrics = metrics
        self.logger = logger
        metrics.limit(bytes: memoryLimit.bytes)
        let holdings = Holdings(limit: memoryLimit, metrics: metrics, logger: logger)
        self.holdings = holdings
        writer = LedgerWriter(topic: topic, producer: producer, metrics: metrics, logger: logger) { entries, offset, partition in
            holdings.written(entries, offset: offset, partition: partition)
        }
    }

    /// Starts reading the ledger partitions of newly assigned requests partitions, all in one
    /// pass (one client for the offsets, one reader for the records); each is served as soon as
    /// it is read. A partition revoked since the last assignment is read from where its copy
    /// ends, so it is usually served at once; the copies of the others are dropped.
    public func assigned(_ partitions: [Int32]) {
        let load = holdings.state.withLock { state -> (id: UInt64, readiness: [Int32: Readiness])? in
            defer { state.revoked = [:] }
            guard !partitions.isEmpty else { return nil }
            state.nextLoadID += 1
            let readiness = Dictionary(uniqueKeysWithValues: partitions.map { ($0, Readiness()) })
            for partition in partitions {
                state.slots[partition] = Slot(ready: readiness[partition]!, loadID: state.nextLoadID, kept: state.revoked.removeValue(forKey: partition))
            }
            return (state.nextLoadID, readiness)
        }
        // The load takes the kept copies from the slots: it then holds their only reference and
        // adds the new records in place, instead of copying a partition's whole state on the
        // first one.
        if let load { Task { await self.load(partitions, id: load.id, readiness: load.readiness) } }
    }

    /// Stops serving revoked partitions. Their copies are kept until the next assignment, in
    /// case it gives them back.
    public func revoked(_ partitions: [Int32]) {
        holdings.state.withLock { state in
            for partition in partitions {
                // A partition whose load has not begun still has its earlier copy to keep.
                if let slot = state.slots.removeValue(forKey: partition), let held = slot.loaded ? slot.state : slot.kept {
                    state.revoked[partition] = held
                }
            }
        }
    }

    /// What the ledger says of a request.
    public enum Lookup: Sendable {
        /// Its partition is no longer assigned here.
        case notAssigned
        /// No intent or outcome of it is held.
        case absent
        /// Its latest intent or outcome. Boxed: a lookup's result sits in the async frames of
        /// every request in flight.
        indirect case found(LedgerEntry)
    }

    /// The latest record of `requestID` in `partition`, once the partition has been read.
    /// Throws when it cannot be read: the worker stops rather than submit blind, and its
    /// requests are redelivered.
    public func lookup(_ requestID: String, partition: Int32) async throws(LedgerError) -> Lookup {
        guard let (ready, loadID) = holdings.state.withLock({ $0.slots[partition].map { ($0.ready, $0.loadID) } }) else { return .notAssigned }
        do {
            try await ready.value.get()
        } catch {
            throw .unavailable("cannot read ledger partition \(topic)[\(partition)]: \(error)")
        }
        // Only the one record leaves the lock: copying the partition's state would make every
        // later write copy it again. A partition revoked and assigned again meanwhile has a new
        // slot, maybe not read yet: this request belongs to the old assignment.
        let key = RequestKey(requestID)
        let held = holdings.state.withLock { state -> (lookup: Lookup, compactedAt: Int64?) in
            guard let slot = state.slots[partition], slot.loadID == loadID, slot.loaded else { return (.notAssigned, nil) }
            if let entry = slot.state.requests[key] { return (.found(entry.entry(requestID: requestID)), nil) }
            return (.absent, slot.state.compacted[key])
        }
        guard let offset = held.compactedAt else { return held.lookup }
        return try await readBack(requestID, partition: partition, offset: offset)
    }

    /// The entry of `requestID` in the ledger record at `offset`, which a compacted request
    /// points to; absent when the record holds none (another ID with the same key).
    private func readBack(_ requestID: String, partition: Int32, offset: Int64) async throws(LedgerError) -> Lookup {
        let messages: [KafkaMessage]
        do {
            messages = try await PartitionReader.read(
                [TopicPartition(topic: topic, partition: partition): offset..<offset + 1], properties: readerProperties, idle: loadTimeout, requireEnd: true,
                logger: logger
            )
        } catch {
            throw .unavailable("cannot read back ledger record \(topic)[\(partition)]@\(offset): \(error)")
        }
        metrics.readBack()
        // Retention may have deleted the record since: the request is then as new.
        let entry = messages.first.flatMap { LedgerEntry.decode($0.value) }?.last { $0.requestID == requestID && $0.kind != .adoption }
        return entry.map { .found($0) } ?? .absent
    }

    /// How many requests' entries this worker holds in full, over the partitions it owns.
    public var entriesHeld: Int { holdings.counts.full }

    /// How many requests this worker holds compacted (see ``LedgerMemoryLimit``).
    public var entriesCompacted: Int { holdings.counts.compacted }

    /// Records what is held in the ledger's metrics; called before each scrape.
    public func sampleMetrics() {
        let (full, followed, compacted) = holdings.counts
        metrics.held(entries: full, compacted: compacted, bytes: LedgerMemoryLimit.estimate(full: full, followed: followed, compacted: compacted))
    }

    /// Whether `creationID` already belongs to a request of `partition` other than `requestID`
    /// (by its outcome or adoption). A request's own adoption does not count: after a crash
    /// between its adoption and its outcome it must find and adopt the same task again.
    public func isClaimed(_ creationID: String, byOtherThan requestID: String, partition: Int32) -> Bool {
        let (creationID, request) = (HeldText(creationID), RequestKey(requestID))
        return holdings.state.withLock { state in state.slots[partition]?.state.claimed[creationID].map { $0.request != request } ?? false }
    }

    /// Starts writing `entry` to ledger partition `partition`; concurrent writes to one
    /// partition share a round trip (``LedgerWriter``). Once Kafka has acknowledged it, the
    /// entry is held here before the write's waiter resumes.
    public func write(_ entry: LedgerEntry, partition: Int32) -> PendingWrite {
        writer.write(entry, partition: partition)
    }

    /// The tasks to follow to their end in the partitions served here (see ``FollowedTask``).
    public func followed() -> [FollowedTask] {
        holdings.state.withLock { state in
            state.slots.flatMap { partition, slot in slot.loaded ? slot.state.following.values.map { $0.task(partition: partition) } : [] }
        }
    }

    /// Records that `task`'s completion (`status`) was published: its outcome is written again
    /// with the completion, so that no owner follows it any longer. Nil when the task is not
    /// followed here (its partition was revoked, or its completion already recorded).
    public func recordCompletion(_ task: FollowedTask, status: LedgerEntry.Completion) -> PendingWrite? {
        let key = RequestKey(task.requestID)
        let entry = holdings.state.withLock { state -> LedgerEntry? in
            guard let slot = state.slots[task.partition], slot.loaded, slot.state.following[key]?.creationID == task.creationID,
                let held = slot.state.requests[key]
            else { return nil }
            var entry = held.entry(requestID: task.requestID)
            (entry.at, entry.completion) = (LedgerEntry.now(), status)
            return entry
        }
        return entry.map { writer.write($0, partition: task.partition) }
    }

    /// Forgets the entries whose records retention has deleted from the ledger partitions read
    /// here (those below each partition's log start): a new owner would not find them either.
    /// Returns how many were forgotten; when the offsets cannot be read, forgets nothing.
    @discardableResult
    public func forgetDeleted() async -> Int {
        let partitions = holdings.state.withLock { state in state.slots.filter(\.value.loaded).map(\.key) }
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
            count + holdings.state.withLock { $0.slots[item.key.partition]?.state.forget(below: item.value.low) ?? 0 }
        }
        if forgotten > 0 {
            logger.info("Forgot ledger entries that retention deleted from the topic", metadata: ["entries": "\(forgotten)"])
        }
        return forgotten
    }

    /// Reads `partitions` to their end, each from its log start, or for those with a kept copy from
    /// where that copy ends, on top of it. Each partition is served as soon as it is read; when
    /// the load fails, the lookups of the partitions not yet served fail with it.
    private func load(_ partitions: [Int32], id: UInt64, readiness: [Int32: Readiness]) async {
        let started = ContinuousClock.now
        var kept = holdings.state.withLock { holdings in
            partitions.reduce(into: [Int32: PartitionState]()) { kept, partition in
                guard holdings.slots[partition]?.loadID == id else { return }
                kept[partition] = holdings.slots[partition]?.kept.take()
            }
        }
        let keptPartitions = kept.keys.sorted()
        var (records, entries) = (0, 0)
        do {
            let ledgerPartitions = partitions.map { TopicPartition(topic: topic, partition: $0) }
            let offsets = try await ClusterInspector.watermarkOffsets(
                properties: readerProperties, partitions: ledgerPartitions, timeout: loadTimeout, logger: logger
            )
            var ranges: [TopicPartition: Range<Int64>] = [:]
            var unread: [Int32: PartitionState] = [:]
            for partition in ledgerPartitions {
                let (low, high) = offsets[partition] ?? (0, 0)
                // A copy that ends past the partition's end (a log truncated since) is not used.
                var state = kept.removeValue(forKey: partition.partition).flatMap { $0.end <= high ? $0 : nil } ?? PartitionState(logStart: low, end: low)
                _ = state.forget(below: low)
                let range = state.end..<max(state.end, high)
                state.end = range.upperBound
                if range.isEmpty {
                    await serve(partition.partition, state, records: 0, id: id, readiness: readiness)
                } else {
                    ranges[partition] = range
                    unread[partition.partition] = state
                }
            }
            // In parts, each applied as it arrives: a partition's records are never all held.
            let read = PartitionReader.parts(
                ranges, properties: readerProperties, idle: loadTimeout, requireEnd: true, partSize: Self.loadPartSize, logger: logger
            )
            var recordsRead: [Int32: Int] = [:]
            for try await (partition, messages, finished) in read {
                // Taken out, so that the records are applied in place.
                guard var state = unread.removeValue(forKey: partition.partition) else { continue }
                for message in messages {
                    guard let decoded = LedgerEntry.decode(message.value) else {
                        logger.warning("Skipping an unreadable ledger record", metadata: ["partition": "\(message.partition)", "offset": "\(message.offset)"])
                        continue
                    }
                    entries += decoded.count
                    for entry in decoded { state.apply(entry, offset: message.offset) }
                }
                records += messages.count
                recordsRead[partition.partition, default: 0] += messages.count
                if finished {
                    await serve(partition.partition, state, records: recordsRead[partition.partition] ?? 0, id: id, readiness: readiness)
                } else {
                    holdings.report(state.bound(within: holdings.limit, sharing: partitions.count))
                    unread[partition.partition] = state
                }
            }
        } catch {
            // Partitions already served keep their value: only the first set counts.
            for ready in readiness.values { ready.fulfill(.failure(error)) }
            return
        }
        logger.info(
            "Ledger partitions read",
            metadata: [
                "partitions": "\(partitions.sorted())", "kept": "\(keptPartitions)", "records": "\(records)", "entries": "\(entries)",
                "took": "\(ContinuousClock.now - started)",
            ]
        )
    }

    /// Serves a partition read by load `id` (`records` read), with the records written here
    /// while it was read, unless the partition has been revoked or assigned again since.
    private func serve(_ partition: Int32, _ state: consuming PartitionState, records: Int, id: UInt64, readiness: [Int32: Readiness]) async {
        metrics.read(records: records)
        await loadRead?(partition)
        let bounded = holdings.state.withLock { holdings -> Bounded? in
            guard holdings.slots[partition]?.loadID == id else { return nil }
            // Written here while this load ran: records past its end are not in it.
            for written in holdings.slots[partition]?.writtenDuringLoad.sorted(by: { $0.offset < $1.offset }) ?? [] {
                state.applyWritten(written.entries, offset: written.offset)
            }
            holdings.slots[partition]?.state = state
            holdings.slots[partition]?.loaded = true
            holdings.slots[partition]?.writtenDuringLoad = []
            return Holdings.bound(&holdings, within: self.holdings.limit)
        }
        if let bounded { self.holdings.report(bounded) }
        // Also when the slot is gone: its waiting lookups then answer `notAssigned`.
        readiness[partition]?.fulfill(.success(()))
    }
}
