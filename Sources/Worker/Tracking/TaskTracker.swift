import Chanjing
import Foundation
import Kafka
import Ledger
import Logging
import ServiceLifecycle
import VideoContract

/// Follows every task submitted from the partitions this worker owns to its video, and
/// publishes a ``VideoCompletion`` for each.
///
/// The ledger is the set of tasks being followed (``SubmissionLedger/followed()``), so it
/// survives crashes and rebalances: a partition's new owner reads it with the partition and
/// follows its tasks on. A completion is published, acknowledged, then recorded in the ledger;
/// a crash in between publishes it again (completions are delivered at least once).
///
/// Drives a ``TrackingSchedule``: reads the tasks due in batches of up to 50 through the pool's
/// token, circuit and rate, taking only rate slots no submit is waiting for.
final class TaskTracker: Service {
    private let settings: TrackingSettings
    private let ledger: SubmissionLedger
    private let chanjing: ChanjingGateway
    private let producer: KafkaProducer
    private let requestsTopic: String
    private let metrics: WorkerMetrics
    private let logger: Logger
    /// Queries in flight at once: enough for 200 calls in a 10 s interval at a second each.
    private let maxConcurrentQueries = 8
    /// How often the ledger's followed set is looked at when nothing is due sooner.
    private let tick = Duration.seconds(1)

    init(
        settings: TrackingSettings, ledger: SubmissionLedger, chanjing: ChanjingGateway, producer: KafkaProducer, requestsTopic: String,
        metrics: WorkerMetrics, logger: Logger
    ) {
        self.settings = settings
        self.ledger = ledger
        self.chanjing = chanjing
        self.producer = producer
        self.requestsTopic = requestsTopic
        self.metrics = metrics
        self.logger = logger
        metrics.trackingStarted()
    }

    func run() async {
        await cancelWhenGracefulShutdown {
            var schedule = TrackingSchedule(settings: self.settings)
            repeat {
                await self.step(&schedule)
            } while (try? await Task.sleep(until: self.wakeUp(schedule), clock: .continuous)) != nil
        }
    }

    /// When to look again: when the next task is due, and at least every tick (new tasks).
    private func wakeUp(_ schedule: TrackingSchedule) -> ContinuousClock.Instant {
        let next = schedule.nextDue.map { ContinuousClock.now + .seconds(max(0.05, $0.timeIntervalSinceNow)) }
        return min(next ?? .now + tick, .now + tick)
    }

    /// One round: the followed set refreshed from the ledger, the due tasks read, the ended
    /// ones completed.
    func step(_ schedule: inout TrackingSchedule) async {
        schedule.update(ledger.followed())
        var completions: [(FollowedTask, TrackingSchedule.Ending)] = []
        var queries: [[String]] = []
        for action in schedule.due(now: Date()) {
            switch action {
            case .query(let ids): queries.append(ids)
            case .complete(let task, let ending): completions.append((task, ending))
            }
        }
        completions += await query(queries, &schedule)
        await complete(completions, &schedule)
        metrics.tracking(followed: schedule.count, oldestSubmittedAt: schedule.oldestSubmittedAt)
    }

    /// Sends the queries that get a rate slot while the circuit is closed, a few at a time;
    /// returns the completions their answers call for.
    private func query(_ batches: [[String]], _ schedule: inout TrackingSchedule) async -> [(FollowedTask, TrackingSchedule.Ending)] {
        var completions: [(FollowedTask, TrackingSchedule.Ending)] = []
        await withTaskGroup(of: ([String], Result<[CreationTask], ChanjingError>?).self) { group in
            var pending = batches[...]
            var running = 0
            func startNext() {
                while running < maxConcurrentQueries, let batch = pending.popFirst() {
                    // Submits come first: a query takes only a slot no submit waits for.
                    guard !chanjing.circuit.isOpen, chanjing.limiter.acquireIfIdle() else {
                        schedule.postponed(batch)
                        continue
                    }
                    running += 1
                    group.addTask { [chanjing] in (batch, await chanjing.query(batch)) }
                }
            }
            startNext()
            while let (asked, answer) = await group.next() {
                running -= 1
                switch answer {
                case .success(let tasks)?:
                    let (actions, unknown) = schedule.answered(asked, tasks: tasks, now: Date())
                    for progress in unknown {
                        logger.warning("Chanjing reported a task progress this version does not know; the task is treated as still running", metadata: ["progress_desc": "\(progress)"])
                    }
                    for case .complete(let task, let ending) in actions { completions.append((task, ending)) }
                case .failure(let error)?:
                    logger.warning("Cannot read the followed tasks from Chanjing; reading them again later", metadata: ["tasks": "\(asked.count)", "error": "\(error)"])
                    schedule.queryFailed(asked, now: Date())
                case nil:
                    schedule.postponed(asked)
                }
                startNext()
            }
        }
        return completions
    }

    /// Publishes each completion, then records it in the ledger; a completion not delivered or
    /// not recorded is tried again.
    private func complete(_ completions: [(FollowedTask, TrackingSchedule.Ending)], _ schedule: inout TrackingSchedule) async {
        guard !completions.isEmpty else { return }
        await withTaskGroup(of: (String, Bool).self) { group in
            for (task, ending) in completions {
                group.addTask { (task.creationID, await self.complete(task, ending)) }
            }
            for await (creationID, done) in group where !done {
                schedule.completionFailed(creationID, now: Date())
            }
        }
    }

    private func complete(_ task: FollowedTask, _ ending: TrackingSchedule.Ending) async -> Bool {
        let completion = Self.completion(task, ending, requestsTopic: requestsTopic, now: Date())
        let message = OutgoingMessage(
            topic: settings.topic, key: task.follow.key ?? Array(task.requestID.utf8), value: completion.encoded(), headers: task.follow.headers
        )
        do {
            guard try await producer.deliver(message, what: "Completion", requestID: task.requestID, logger: logger) else { return false }
            try await ledger.recordCompletion(task, status: LedgerEntry.Completion(completion.status))?.acknowledged()
        } catch {
            logger.error("Cannot complete a followed task; trying again", metadata: ["request_id": "\(task.requestID)", "error": "\(error)"])
            return false
        }
        metrics.completed(completion)
        var metadata: Logger.Metadata = [
            "request_id": "\(task.requestID)", "creation_id": "\(task.creationID)", "partition": "\(task.partition)",
            "render_seconds": "\(completion.renderSeconds)",
        ]
        if let error = completion.error { metadata["error"] = "\(error.code.rawValue)" }
        logger.info("Task \(completion.status.rawValue)", metadata: metadata)
        return true
    }

    /// The completion `ending` calls for.
    static func completion(_ task: FollowedTask, _ ending: TrackingSchedule.Ending, requestsTopic: String, now: Date) -> VideoCompletion {
        let (status, urls, progress, error): (VideoCompletion.Status, [String], String?, VideoCompletion.ErrorDetail?)
        switch ending {
        case .succeeded(let videoURLs, let last):
            (status, urls, progress, error) = (.succeeded, videoURLs, last, nil)
        case .failed(let code, let chanjingMessage, let last):
            let message = code == .noOutput ? "Chanjing reported success without a video URL" : "Chanjing reported the generation failed"
            (status, urls, progress, error) = (.failed, [], last, .init(code: code, message: message, chanjingMessage: chanjingMessage))
        case .expired(let last):
            let message = "still unfinished after the maximum tracking time; no longer followed (read it with the task query API)"
            (status, urls, progress, error) = (.expired, [], last, .init(code: .trackingExpired, message: message))
        }
        return VideoCompletion(
            requestID: task.requestID, creationID: task.creationID, status: status, videoURLs: urls, progressDescription: progress, error: error,
            submittedAt: task.submittedAt, finishedAt: now,
            source: .init(topic: requestsTopic, partition: task.partition, offset: task.follow.offset), producedAt: now
        )
    }
}

extension LedgerEntry.Completion {
    init(_ status: VideoCompletion.Status) {
        switch status {
        case .succeeded: self = .succeeded
        case .failed: self = .failed
        case .expired: self = .expired
        }
    }
}
