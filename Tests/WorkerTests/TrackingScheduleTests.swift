import Chanjing
import Foundation
import Ledger
import Testing
import VideoContract
@testable import Worker

/// Following tasks to their end, without Kafka or HTTP: when tasks are read, in which batches,
/// and what Chanjing's answers end in.
@Suite("Following tasks: the schedule")
struct TrackingScheduleTests {
    static let start = Date(timeIntervalSince1970: 1_800_000_000)
    static let settings = TrackingSettings(firstCheck: .seconds(30), interval: .seconds(10), maxTrackTime: .seconds(3600))

    static func task(_ index: Int, submittedAt: Date = start) -> FollowedTask {
        FollowedTask(
            partition: Int32(index % 3), requestID: "r-\(index)", creationID: "c-\(index)", submittedAt: submittedAt,
            follow: .init(offset: Int64(index), key: nil, headers: [])
        )
    }

    static func read(_ id: String, _ progress: String?, urls: [String]? = nil, message: String? = nil) -> CreationTask {
        CreationTask(uniqueID: id, progressDescription: progress, errorMessage: message, outputURLs: urls)
    }

    static func queried(_ actions: [TrackingSchedule.Action]) -> [[String]] {
        actions.compactMap { if case .query(let ids) = $0 { ids } else { nil } }
    }

    @Test("a task is read first after the first-check delay, then every interval")
    func timing() {
        var schedule = TrackingSchedule(settings: Self.settings)
        schedule.update([Self.task(1)])
        #expect(schedule.due(now: Self.start + 29).isEmpty)
        #expect(schedule.nextDue == Self.start + 30)
        #expect(Self.queried(schedule.due(now: Self.start + 30)) == [["c-1"]])
        // Asked and not answered yet: not asked again.
        #expect(schedule.due(now: Self.start + 45).isEmpty)
        let (actions, unknown) = schedule.answered(["c-1"], tasks: [Self.read("c-1", "Generating")], now: Self.start + 31)
        #expect(actions.isEmpty && unknown.isEmpty)
        #expect(schedule.due(now: Self.start + 40).isEmpty)
        #expect(Self.queried(schedule.due(now: Self.start + 41)) == [["c-1"]])
    }

    @Test("Chanjing's answers end in the completions the contract names")
    func endings() {
        var schedule = TrackingSchedule(settings: Self.settings)
        schedule.update((1...6).map { Self.task($0) })
        let asked = Self.queried(schedule.due(now: Self.start + 30)).flatMap { $0 }
        #expect(asked.count == 6)
        let (actions, unknown) = schedule.answered(
            asked,
            tasks: [
                Self.read("c-1", "Success", urls: ["https://v/1.mp4"]),
                Self.read("c-2", "Error", message: "视频生成失败"),
                Self.read("c-3", "Fail", urls: []),
                Self.read("c-4", "Success", urls: [""]),
                Self.read("c-5", "Cancelled"),
                // c-6 is missing from the answer: read again later.
            ],
            now: Self.start + 31
        )
        #expect(unknown == ["Cancelled"])
        let endings = Dictionary(uniqueKeysWithValues: actions.compactMap { action -> (String, TrackingSchedule.Ending)? in
            if case .complete(let task, let ending) = action { (task.creationID, ending) } else { nil }
        })
        #expect(endings.count == 4)
        #expect(endings["c-1"] == .succeeded(videoURLs: ["https://v/1.mp4"], progress: "Success"))
        #expect(endings["c-2"] == .failed(.generationFailed, chanjingMessage: "视频生成失败", progress: "Error"))
        #expect(endings["c-3"] == .failed(.generationFailed, chanjingMessage: nil, progress: "Fail"))
        #expect(endings["c-4"] == .failed(.noOutput, chanjingMessage: nil, progress: "Success"))
        // The unknown progress is reported once, however often it is seen.
        let again = schedule.answered(["c-5"], tasks: [Self.read("c-5", "Cancelled")], now: Self.start + 32)
        #expect(again.unknownProgress.isEmpty && again.actions.isEmpty)
        // Tasks being completed are not read again; the others are, an interval later.
        #expect(Set(Self.queried(schedule.due(now: Self.start + 42)).flatMap { $0 }) == ["c-5", "c-6"])
    }

    @Test("a task still unfinished after the maximum tracking time expires with its last progress, once")
    func expiry() {
        var schedule = TrackingSchedule(settings: .init(firstCheck: .seconds(1), interval: .seconds(1), maxTrackTime: .seconds(5)))
        schedule.update([Self.task(1)])
        _ = schedule.due(now: Self.start + 1)
        _ = schedule.answered(["c-1"], tasks: [Self.read("c-1", "Generating")], now: Self.start + 1)
        let actions = schedule.due(now: Self.start + 5)
        #expect(actions == [.complete(Self.task(1), .expired(progress: "Generating"))])
        #expect(schedule.due(now: Self.start + 9).isEmpty)
        // Not delivered: expires again at the next look.
        schedule.completionFailed("c-1", now: Self.start + 9)
        #expect(schedule.due(now: Self.start + 10) == [.complete(Self.task(1), .expired(progress: "Generating"))])
    }

    @Test("tasks leave the schedule when the ledger stops listing them; a failed or postponed query is asked again")
    func updatesAndFailures() {
        var schedule = TrackingSchedule(settings: Self.settings)
        schedule.update([Self.task(1), Self.task(2)])
        #expect(schedule.count == 2 && schedule.oldestSubmittedAt == Self.start)
        schedule.update([Self.task(2)])
        #expect(Self.queried(schedule.due(now: Self.start + 30)) == [["c-2"]])
        schedule.postponed(["c-2"])
        #expect(Self.queried(schedule.due(now: Self.start + 30)) == [["c-2"]])
        schedule.queryFailed(["c-2"], now: Self.start + 30)
        #expect(schedule.due(now: Self.start + 39).isEmpty)
        #expect(Self.queried(schedule.due(now: Self.start + 40)) == [["c-2"]])
    }

    @Test("10,000 tasks submitted evenly, read every 10 s: at most 200 calls per interval, none over 50 tasks")
    func batchBound() {
        var schedule = TrackingSchedule(settings: Self.settings)
        // Submitted over one interval, 1,000 a second.
        let tasks = (0..<10_000).map { Self.task($0, submittedAt: Self.start + Double($0 / 1000)) }
        schedule.update(tasks)
        var callsPerInterval: [Int: Int] = [:]
        for second in 30..<130 {
            let now = Self.start + Double(second)
            for ids in Self.queried(schedule.due(now: now)) {
                #expect(ids.count <= 50)
                callsPerInterval[(second - 30) / 10, default: 0] += 1
                _ = schedule.answered(ids, tasks: ids.map { Self.read($0, "Generating") }, now: now)
            }
        }
        #expect(callsPerInterval.count == 10)
        #expect(callsPerInterval.values.allSatisfy { $0 <= 200 }, "calls per interval: \(callsPerInterval.sorted { $0.key < $1.key }.map(\.value))")
    }

    @Test("a few tasks due at different moments share calls once they have been read")
    func sparseTasksShareCalls() {
        var schedule = TrackingSchedule(settings: Self.settings)
        // Ten tasks, one every second.
        schedule.update((0..<10).map { Self.task($0, submittedAt: Self.start + Double($0)) })
        var calls = 0
        for second in 30..<100 {
            let now = Self.start + Double(second)
            for ids in Self.queried(schedule.due(now: now)) {
                calls += 1
                _ = schedule.answered(ids, tasks: ids.map { Self.read($0, "Generating") }, now: now)
            }
        }
        // Ten first reads, then about one call per interval for all ten.
        #expect(calls <= 10 + 7, "\(calls) calls")
    }

    @Test("the completion series the alerts read exist at 0 before the first completion")
    func seriesAtZero() {
        let metrics = WorkerMetrics()
        metrics.trackingStarted()
        let text = String(decoding: metrics.registry.emitToBuffer(), as: UTF8.self)
        for series in [
            #"chanjing_worker_completions_total{status="succeeded",code="none"} 0"#,
            #"chanjing_worker_completions_total{status="failed",code="generation_failed"} 0"#,
            #"chanjing_worker_completions_total{status="expired",code="tracking_expired"} 0"#,
            #"chanjing_worker_task_queries_total{code="0"} 0"#,
            "chanjing_worker_tasks_followed 0",
        ] {
            #expect(text.contains(series), "\(series) missing from:\n\(text)")
        }
    }

    @Test("a completion names the request, its source and how the task ended")
    func completion() throws {
        var task = Self.task(7)
        task.follow = .init(offset: 1041, key: Array("k".utf8), headers: [])
        let succeeded = TaskTracker.completion(task, .succeeded(videoURLs: ["https://v/7.mp4"], progress: "Success"), requestsTopic: "requests", now: Self.start + 74.2)
        #expect(succeeded.status == .succeeded && succeeded.videoURLs == ["https://v/7.mp4"] && succeeded.error == nil)
        #expect(succeeded.renderSeconds == 74.2)
        #expect(succeeded.source == .init(topic: "requests", partition: 1, offset: 1041))
        #expect(succeeded.progressDescription == "Success")
        let expired = TaskTracker.completion(task, .expired(progress: nil), requestsTopic: "requests", now: Self.start + 3600)
        #expect(expired.status == .expired && expired.error?.code == .trackingExpired && expired.progressDescription == nil)
        let failed = TaskTracker.completion(task, .failed(.generationFailed, chanjingMessage: "x", progress: "Error"), requestsTopic: "requests", now: Self.start)
        #expect(failed.error == .init(code: .generationFailed, message: "Chanjing reported the generation failed", chanjingMessage: "x"))
        let decoded = try VideoCompletion.decode(failed.encoded())
        #expect(decoded == failed)
    }
}
