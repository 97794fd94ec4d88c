import Chanjing
import Foundation
import Ledger
import VideoContract

/// Which followed tasks to read from Chanjing, when, in which batches, and what the answers end
/// in. A pure value that takes events (the ledger's followed set, a tick, an answer, a failed or
/// postponed query, a completion not delivered) and returns actions; ``TaskTracker`` carries them
/// out.
///
/// Each task is read first `firstCheck` after its submit, then every `interval`. Reads are
/// batched: a batch of due tasks that is not full is filled with the tasks due next within the
/// interval, so that N tasks cost about N / batch size calls per interval, however their checks
/// are spread.
struct TrackingSchedule {
    /// How a followed task ends.
    enum Ending: Equatable {
        case succeeded(videoURLs: [String], progress: String?)
        case failed(VideoCompletion.ErrorCode, chanjingMessage: String?, progress: String?)
        /// Followed for `maxTrackTime` without an end; `progress` as last read.
        case expired(progress: String?)
    }

    enum Action: Equatable {
        /// Read these tasks (creation IDs, at most a batch) from Chanjing.
        case query([String])
        /// Publish the task's completion and record it in the ledger.
        case complete(FollowedTask, Ending)
    }

    private struct Entry {
        var task: FollowedTask
        var nextCheck: Date
        var checks = 0
        var lastProgress: String?
        /// A query or a completion is under way: not scheduled again until it is answered.
        var busy = false
    }

    let settings: TrackingSettings
    /// Tasks read in one call at most.
    let batchSize: Int
    private var entries: [String: Entry] = [:]
    /// `progress_desc` values not known to this version, reported once each.
    private var unknownReported: Set<String> = []

    init(settings: TrackingSettings, batchSize: Int = ChanjingClient.maxTasksPerQuery) {
        self.settings = settings
        self.batchSize = batchSize
    }

    /// Tasks being followed.
    var count: Int { entries.count }

    /// When the oldest task being followed was submitted.
    var oldestSubmittedAt: Date? { entries.values.lazy.map(\.task.submittedAt).min() }

    /// The next time a task is due, or nil when none waits.
    var nextDue: Date? { entries.values.lazy.filter { !$0.busy }.map(\.nextCheck).min() }

    /// The ledger's set of tasks to follow now: new ones are scheduled for their first check,
    /// those no longer in it (completed, or their partition revoked) are dropped.
    mutating func update(_ followed: [FollowedTask]) {
        var updated: [String: Entry] = [:]
        updated.reserveCapacity(followed.count)
        for task in followed {
            updated[task.creationID] = entries[task.creationID] ?? Entry(task: task, nextCheck: task.submittedAt + settings.firstCheck / .seconds(1))
        }
        entries = updated
    }

    /// The actions due at `now`: completions of tasks followed too long, and queries for the
    /// tasks due, in batches.
    mutating func due(now: Date) -> [Action] {
        var actions: [Action] = []
        let maxAge = settings.maxTrackTime / .seconds(1)
        for (id, entry) in entries where !entry.busy && now.timeIntervalSince(entry.task.submittedAt) >= maxAge {
            entries[id]?.busy = true
            actions.append(.complete(entry.task, .expired(progress: entry.lastProgress)))
        }
        let idle = entries.filter { !$0.value.busy }
        var due = idle.filter { $0.value.nextCheck <= now }.sorted { $0.value.nextCheck < $1.value.nextCheck }.map(\.key)
        guard !due.isEmpty else { return actions }
        let shortfall = (batchSize - due.count % batchSize) % batchSize
        if shortfall > 0 {
            // Read once already and due within the interval: read now rather than in a call of their own.
            let horizon = now + settings.interval / .seconds(1)
            let soon = idle.filter { $0.value.nextCheck > now && $0.value.nextCheck <= horizon && $0.value.checks > 0 }
            due += soon.sorted { $0.value.nextCheck < $1.value.nextCheck }.prefix(shortfall).map(\.key)
        }
        for id in due { entries[id]?.busy = true }
        for start in stride(from: 0, to: due.count, by: batchSize) {
            actions.append(.query(Array(due[start..<min(start + batchSize, due.count)])))
        }
        return actions
    }

    /// Chanjing answered the query for `asked` with `tasks`. Returns the completions to publish
    /// and the `progress_desc` values not known to this version seen for the first time.
    mutating func answered(_ asked: [String], tasks: [CreationTask], now: Date) -> (actions: [Action], unknownProgress: [String]) {
        let read = Dictionary(tasks.map { ($0.uniqueID, $0) }, uniquingKeysWith: { first, _ in first })
        var actions: [Action] = []
        var unknown: [String] = []
        for id in asked {
            guard var entry = entries[id] else { continue }
            entry.busy = false
            entry.checks += 1
            // A task missing from the answer is read again later, until it expires.
            if let task = read[id] {
                entry.lastProgress = task.progressDescription
                switch TaskProgress(task) {
                case .succeeded(let urls):
                    entry.busy = true
                    actions.append(.complete(entry.task, .succeeded(videoURLs: urls, progress: task.progressDescription)))
                case .failed(let code, let message):
                    entry.busy = true
                    actions.append(.complete(entry.task, .failed(code, chanjingMessage: message, progress: task.progressDescription)))
                case .unknown(let progress):
                    let text = progress ?? "(none)"
                    if unknownReported.insert(text).inserted { unknown.append(text) }
                case .running:
                    break
                }
            }
            entry.nextCheck = now + settings.interval / .seconds(1)
            entries[id] = entry
        }
        return (actions, unknown)
    }

    /// The query for `asked` failed: read them again an interval later.
    mutating func queryFailed(_ asked: [String], now: Date) {
        for id in asked where entries[id] != nil {
            entries[id]?.busy = false
            entries[id]?.nextCheck = now + settings.interval / .seconds(1)
        }
    }

    /// The query for `asked` was not sent (the circuit is open, or submits took every slot):
    /// they stay due.
    mutating func postponed(_ asked: [String]) {
        for id in asked { entries[id]?.busy = false }
    }

    /// The completion of `creationID` was not published or not recorded: its task is read again.
    mutating func completionFailed(_ creationID: String, now: Date) {
        entries[creationID]?.busy = false
        entries[creationID]?.nextCheck = now + settings.interval / .seconds(1)
    }
}
