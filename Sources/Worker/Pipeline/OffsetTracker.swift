import DequeModule
import Kafka

/// Which offsets of each assigned partition are in flight, and how far a partition's stored
/// position may move: only to the end of its contiguous run of finished records, so a slow
/// record never lets the committed offset pass it. Plain state, no I/O: each assignment's
/// ``Revocation`` is held here, and begun by the caller.
struct OffsetTracker {
    private struct Entry {
        var offset: Int64
        var done = false
        /// Still being worked on: not finished, and not left unfinished.
        var running = true
    }

    private struct PartitionState {
        var generation: Int
        /// Set once revocation started: no new work may begin.
        var revoking = false
        /// What the assignment's requests wait on; begun when `revoking` is set, or when the
        /// partition is assigned anew.
        let revocation = Revocation()
        /// Records begun and not yet released, in offset order.
        var entries = Deque<Entry>()
    }

    private var partitions: [TopicPartition: PartitionState] = [:]

    /// `partitions` now belong to this member under `generation`. Returns the revocations of the
    /// assignments this one replaces (assigned anew without a revocation first), to begin.
    @discardableResult
    mutating func assign(_ assigned: [TopicPartition], generation: Int) -> [Revocation] {
        assigned.compactMap { partitions.updateValue(PartitionState(generation: generation), forKey: $0)?.revocation }
    }

    /// The revocation of `partition`'s assignment under `generation`; ``Revocation/begun`` when
    /// that assignment is over or being revoked.
    func revocation(of partition: TopicPartition, generation: Int) -> Revocation {
        guard let state = partitions[partition], state.generation == generation, !state.revoking else { return .begun }
        return state.revocation
    }

    /// Records that work on `offset` starts. False when the record belongs to an assignment that
    /// is no longer current (or is being revoked): it must be skipped.
    mutating func begin(_ partition: TopicPartition, offset: Int64, generation: Int) -> Bool {
        update(partition) { state in
            guard state.generation == generation, !state.revoking else { return false }
            if let last = state.entries.last, last.offset >= offset { return false }  // a redelivered duplicate
            state.entries.append(Entry(offset: offset))
            return true
        } ?? false
    }

    /// Records that `offset` is finished (its result acknowledged). Returns the position to store
    /// (the next offset to read) when the contiguous finished run grew, else nil.
    mutating func finish(_ partition: TopicPartition, offset: Int64, generation: Int) -> Int64? {
        update(partition) { state -> Int64? in
            guard state.generation == generation, let index = Self.index(of: offset, in: state.entries) else { return nil }
            state.entries[index].done = true
            state.entries[index].running = false
            var released: Int64?
            while let first = state.entries.first, first.done {
                released = first.offset
                state.entries.removeFirst()
            }
            return released.map { $0 + 1 }
        } ?? nil
    }

    /// Records that work on `offset` ended without a result (its partition is being revoked, or
    /// shutdown): the position never passes it, and a revocation no longer waits for it.
    mutating func leave(_ partition: TopicPartition, offset: Int64, generation: Int) {
        update(partition) { state in
            guard state.generation == generation, let index = Self.index(of: offset, in: state.entries) else { return }
            state.entries[index].running = false
        }
    }

    /// Runs `body` on `partition`'s state where it is stored. A copy taken out and stored back
    /// would share the entries' storage while it is changed, so every begin and finish would copy
    /// all of the partition's records in flight.
    private mutating func update<Result>(_ partition: TopicPartition, _ body: (inout PartitionState) -> Result) -> Result? {
        guard let slot = partitions.index(forKey: partition) else { return nil }
        return body(&partitions.values[slot])
    }

    /// Stops new work on `revoked`; in-flight work may still finish and store. Returns their
    /// revocations, to begin.
    @discardableResult
    mutating func beginRevoke(_ revoked: [TopicPartition]) -> [Revocation] {
        revoked.compactMap { partition in
            partitions[partition]?.revoking = true
            return partitions[partition]?.revocation
        }
    }

    /// Forgets `revoked` partitions entirely.
    mutating func remove(_ revoked: [TopicPartition]) {
        for partition in revoked { partitions[partition] = nil }
    }

    /// Records still being worked on in `partitions` (all partitions when nil): begun, neither
    /// finished nor left.
    func inFlight(_ subset: [TopicPartition]? = nil) -> Int {
        let keys = subset ?? Array(partitions.keys)
        return keys.reduce(0) { total, key in
            total + (partitions[key]?.entries.lazy.filter(\.running).count ?? 0)
        }
    }

    /// Partitions currently assigned.
    var ownedPartitions: Int { partitions.count }

    /// The lowest unfinished offset of each partition with work in flight.
    var lowestUnfinished: [TopicPartition: Int64] {
        partitions.compactMapValues { $0.entries.first(where: { !$0.done })?.offset }
    }

    private static func index(of offset: Int64, in entries: Deque<Entry>) -> Int? {
        var low = 0
        var high = entries.count - 1
        while low <= high {
            let middle = (low + high) / 2
            let value = entries[middle].offset
            if value == offset { return middle }
            if value < offset { low = middle + 1 } else { high = middle - 1 }
        }
        return nil
    }
}
