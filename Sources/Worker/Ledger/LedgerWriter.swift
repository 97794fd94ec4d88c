import Foundation
import Kafka
import Logging
import Synchronization

/// Writes ledger entries with group commit: the entries of one partition that arrive while a
/// write to that partition is in flight go together, as one Kafka record, in the next round
/// trip. A quiet partition's entry is written at once; on a busy one an entry waits at most for
/// the write in flight, and the records (and produce calls) per request fall as the load rises.
final class LedgerWriter: Sendable {
    private typealias Queued = (entry: LedgerEntry, write: PendingWrite)

    private struct Queue {
        var waiting: [Queued] = []
        var writing = false
    }

    /// Entries per Kafka record: a few hundred bytes each, well under Kafka's default 1 MB
    /// `message.max.bytes`.
    static let maxEntriesPerRecord = 500

    let topic: String
    private let producer: KafkaProducer
    private let logger: Logger
    private let queues = Mutex<[Int32: Queue]>([:])
    /// Makes every record's key unique (`<writer>/<sequence>`): a record holds entries of many
    /// requests, so no later record supersedes it as a whole.
    private let writerID = UUID().uuidString.lowercased()
    private let sequence = Atomic<UInt64>(0)

    init(topic: String, producer: KafkaProducer, logger: Logger) {
        self.topic = topic
        self.producer = producer
        self.logger = logger
    }

    /// Queues `entry` for ledger partition `partition`; the returned write completes when Kafka
    /// has acknowledged it.
    func write(_ entry: LedgerEntry, partition: Int32) -> PendingWrite {
        let write = PendingWrite()
        let startWriting = queues.withLock { queues in
            queues[partition, default: Queue()].waiting.append((entry, write))
            guard queues[partition]?.writing == false else { return false }
            queues[partition]?.writing = true
            return true
        }
        if startWriting { Task { await self.drain(partition) } }
        return write
    }

    /// Writes partition `partition`'s queued entries, record after record, until none are left.
    private func drain(_ partition: Int32) async {
        while true {
            let batch = queues.withLock { queues -> [Queued] in
                let count = min(queues[partition]?.waiting.count ?? 0, Self.maxEntriesPerRecord)
                guard count > 0 else {
                    queues[partition] = nil
                    return []
                }
                defer { queues[partition]?.waiting.removeFirst(count) }
                return Array(queues[partition]!.waiting.prefix(count))
            }
            guard !batch.isEmpty else { return }
            let result: Result<Void, WorkerFailure>
            do throws(WorkerFailure) {
                try await send(batch.map(\.entry), partition: partition)
                result = .success(())
            } catch {
                result = .failure(error)
            }
            for queued in batch { queued.write.complete(result) }
        }
    }

    private func send(_ entries: [LedgerEntry], partition: Int32) async throws(WorkerFailure) {
        let key = "\(writerID)/\(sequence.add(1, ordering: .relaxed).newValue)"
        let message = OutgoingMessage(topic: topic, partition: partition, key: Array(key.utf8), value: LedgerEntry.encode(entries))
        var failures = 0
        while true {
            do {
                try await producer.send(message)
                return
            } catch {
                if let fatal = producer.fatalError { throw .producerFailed(fatal) }
                failures += 1
                if failures >= 5 { throw .ledgerUnavailable("cannot write to \(topic)[\(partition)]: \(error)") }
                logger.warning("Ledger write failed; writing again", metadata: ["partition": "\(partition)", "error": "\(error)"])
                try? await Task.sleep(for: .milliseconds(100 * (1 << failures)))
            }
        }
    }
}

/// A ledger entry on its way to Kafka. Waiting is separate from writing, so a request can
/// publish its result while its outcome is written, and usually find the outcome acknowledged
/// without suspending.
final class PendingWrite: Sendable {
    private enum State {
        case waiting(CheckedContinuation<Result<Void, WorkerFailure>, Never>?)
        case done(Result<Void, WorkerFailure>)
    }

    private let state = Mutex(State.waiting(nil))

    fileprivate func complete(_ result: Result<Void, WorkerFailure>) {
        let waiter = state.withLock { state -> CheckedContinuation<Result<Void, WorkerFailure>, Never>? in
            guard case .waiting(let waiter) = state else { return nil }
            state = .done(result)
            return waiter
        }
        waiter?.resume(returning: result)
    }

    /// Returns once Kafka has acknowledged the entry; throws when it could not be written.
    /// Call it once.
    func acknowledged() async throws(WorkerFailure) {
        // Usually acknowledged already (an outcome is written while its result is published).
        if case .done(let result) = state.withLock({ $0 }) { return try result.get() }
        let result = await withCheckedContinuation { (waiter: CheckedContinuation<Result<Void, WorkerFailure>, Never>) in
            let done = state.withLock { state -> Result<Void, WorkerFailure>? in
                if case .done(let result) = state { return result }
                state = .waiting(waiter)
                return nil
            }
            if let done { waiter.resume(returning: done) }
        }
        try result.get()
    }
}
