import Chanjing
import ChanjingSimulator
import Foundation
import Kafka
import Testing
import TestSupport
import VideoContract

@testable import Ledger
@testable import Worker

/// A request found in the ledger with an intent but no outcome (its worker died during the call)
/// is reconciled with Chanjing's task list before anything is submitted: each policy, the claim
/// that keeps another request's task from being adopted, and the search window.
@Suite("Reconciling an interrupted submit", .serialized)
struct ReconciliationTests {
    private struct Unexpected: Error {
        let expected: String
        init(_ expected: String) { self.expected = expected }
    }

    /// The ledger as a worker that died during the call left it: `entries` in partition 0.
    private static func leaveInLedger(_ entries: [LedgerEntry], _ harness: WorkerHarness) async throws {
        let producer = try KafkaProducer(properties: harness.kafka.clientProperties, logger: TestLogging.logger())
        try await producer.send(
            OutgoingMessage(topic: harness.kafka.ledgerTopic, partition: 0, key: Array("crashed/1".utf8), value: LedgerEntry.record(entries.map { $0.encoded() }))
        )
        await producer.shutdown()
    }

    private static func body(_ id: String, prompt: String? = nil) throws -> SubmitTaskRequest {
        guard case .valid(let request) = RequestDecoder().decode(Array(requestJSON(id: id, prompt: prompt).utf8), fallbackRequestID: id) else {
            throw Unexpected("the request is valid")
        }
        return request.submitBody
    }

    private static func intent(_ id: String, prompt: String? = nil, at date: Date = Date()) throws -> LedgerEntry {
        LedgerEntry(kind: .intent, requestID: id, bodyHash: try body(id, prompt: prompt).ledgerHash, at: LedgerEntry.milliseconds(date))
    }

    /// Creates a task as the dead worker's call did; returns its ID. Call it before a worker
    /// starts: the token fetched here replaces any earlier one.
    private static func createTask(prompt: String, _ harness: WorkerHarness) async throws -> String {
        guard case .accessToken(let token) = try harness.sharedToken() else { throw Unexpected("a token") }
        let before = Set(harness.simulator.tasks.map(\.uniqueID))
        let body = #"{"ref_prompt":"\#(prompt)","creation_type":4,"model_code":"\#(KlingOptions.defaultModelCode)"}"#
        _ = await harness.simulator.submit(token: token, body: Array(body.utf8))
        guard let created = harness.simulator.tasks.first(where: { !before.contains($0.uniqueID) }) else { throw Unexpected("the task was created") }
        return created.uniqueID
    }

    /// Leaves what `prepare` returns in the ledger, as a worker that died during the call would,
    /// then runs a worker with `policy` on request `id` until its result is in. `prepare` may
    /// create tasks first, as the dead worker's calls did.
    private static func reconcile(
        _ id: String, prompt: String? = nil, policy: ReconcilePolicy, clockSkew: Duration = .seconds(5),
        prepare: @escaping @Sendable (WorkerHarness) async throws -> [LedgerEntry] = { _ in [] }
    ) async throws -> (result: VideoResult?, simulator: ChanjingSimulator) {
        let harness = try await WorkerHarness(partitions: 1)
        let result = try await harness.run(within: 100, "reconcile") {
            try await leaveInLedger(try await prepare(harness) + [try intent(id, prompt: prompt)], harness)
            try await harness.kafka.produce([requestJSON(id: id, prompt: prompt)])
            var configuration = harness.configuration
            configuration.ledger = LedgerSettings(topic: harness.kafka.ledgerTopic, policy: policy, reconcileDelay: .seconds(1), clockSkew: clockSkew)
            let (worker, run) = try await harness.startWorker(configuration)
            let results = try await harness.results(atLeast: 1, within: 60)
            await worker.shutdown()
            try await run.value
            return results.first { $0.1.requestID == id }?.1
        }
        return (result, harness.simulator)
    }

    @Test("adopt-or-fail, and no task was created: failed with outcome_unknown, nothing submitted", .timeLimit(.minutes(2)))
    func adoptOrFailFindsNothing() async throws {
        let (result, simulator) = try await Self.reconcile("lost", policy: .adoptOrFail)
        #expect(result?.status == .failed && result?.error?.code == .outcomeUnknown, "\(String(describing: result))")
        #expect(simulator.stats.submitCalls == 0)
    }

    @Test("adopt-or-resubmit, and no task was created: submitted once", .timeLimit(.minutes(2)))
    func adoptOrResubmitFindsNothing() async throws {
        let (result, simulator) = try await Self.reconcile("lost", policy: .adoptOrResubmit)
        #expect(result?.status == .submitted && result?.reconciled == nil, "\(String(describing: result))")
        #expect(simulator.tasks.count == 1 && result?.creationID == simulator.tasks.first?.uniqueID)
    }

    @Test("resubmit never searches: the task the dead worker created stays, and a second one is made", .timeLimit(.minutes(2)))
    func resubmitDoesNotSearch() async throws {
        let (result, simulator) = try await Self.reconcile("landed", policy: .resubmit) { harness in
            _ = try await Self.createTask(prompt: "prompt for landed", harness)
            return []
        }
        #expect(result?.status == .submitted && result?.reconciled == nil, "\(String(describing: result))")
        #expect(simulator.tasks.count == 2)
        #expect(result?.creationID != nil && result?.creationID == simulator.tasks.last?.uniqueID, "the second task, not the dead worker's")
    }

    @Test("a matching task that another request's outcome claims is passed over for the one this request created", .timeLimit(.minutes(2)))
    func claimedTaskNotAdopted() async throws {
        // Two requests with one body. "mine" died during its call, whose task landed; "theirs"
        // was submitted after it and ended, claiming the newer task, which the search meets first.
        let prompt = "the same prompt"
        let (result, simulator) = try await Self.reconcile("mine", prompt: prompt, policy: .adoptOrFail) { harness in
            _ = try await Self.createTask(prompt: prompt, harness)
            try await Task.sleep(for: .milliseconds(20))
            var outcome = try Self.intent("theirs", prompt: prompt)
            outcome.kind = .outcome
            outcome.status = .submitted
            outcome.creationID = try await Self.createTask(prompt: prompt, harness)
            outcome.attempts = 1
            return [outcome]
        }
        let (mine, theirs) = (simulator.tasks.first?.uniqueID, simulator.tasks.last?.uniqueID)
        #expect(result?.status == .submitted && result?.reconciled == true, "\(String(describing: result))")
        #expect(result?.creationID == mine, "adopted \(result?.creationID ?? "nothing"); its own task is \(mine ?? ""), the claimed one \(theirs ?? "")")
        #expect(simulator.stats.submitCalls == 2, "the dead workers' two calls; this worker submitted nothing")
    }

    @Test("the search pages back: a task 120 newer tasks down the list (page 3 of 50) is found and adopted", .timeLimit(.minutes(2)))
    func searchPagesBack() async throws {
        let (result, simulator) = try await Self.reconcile("deep", policy: .adoptOrFail) { harness in
            _ = try await Self.createTask(prompt: "prompt for deep", harness)
            for index in 0..<120 { _ = try await Self.createTask(prompt: "another request \(index)", harness) }
            return []
        }
        #expect(result?.status == .submitted && result?.reconciled == true, "\(String(describing: result))")
        #expect(result?.creationID == simulator.tasks.first?.uniqueID)
        #expect(simulator.tasks.count == 121)
    }

    @Test("a search that cannot run is never taken for 'not found': the request waits until the task list answers, then adopts the task", .timeLimit(.minutes(2)))
    func searchOutageWaits() async throws {
        let harness = try await WorkerHarness(partitions: 1)
        try await harness.run(within: 100, "search outage") {
            let created = try await Self.createTask(prompt: "prompt for waiting", harness)
            try await Self.leaveInLedger([try Self.intent("waiting")], harness)
            harness.simulator.configure { $0.taskListDown = true }
            try await harness.kafka.produce([requestJSON(id: "waiting")])
            let (worker, run) = try await harness.startWorker()
            // Longer than the five searches that used to end in a second submit.
            try await Task.sleep(for: .seconds(14))
            #expect(try await harness.kafka.readResults(atLeast: 1, within: 1).isEmpty, "no result while the search cannot run")
            #expect(harness.simulator.stats.submitCalls == 1, "only the dead worker's call")
            harness.simulator.configure { $0.taskListDown = false }
            let result = try await harness.results(atLeast: 1, within: 60).first?.1
            #expect(result?.status == .submitted && result?.reconciled == true && result?.creationID == created, "\(String(describing: result))")
            #expect(harness.simulator.tasks.count == 1, "no paid duplicate")
            await worker.shutdown()
            try await run.value
        }
    }

    @Test("a request waiting to reconcile steps aside: with --max-in-flight 1, the requests after it are submitted meanwhile", .timeLimit(.minutes(2)))
    func reconcileWaitStepsAside() async throws {
        let harness = try await WorkerHarness(partitions: 1)
        try await harness.run(within: 100, "reconcile wait steps aside") {
            try await Self.leaveInLedger([try Self.intent("interrupted")], harness)
            let fresh = (0..<5).map { "fresh-\($0)" }
            try await harness.kafka.produce([requestJSON(id: "interrupted")] + fresh.map { requestJSON(id: $0) })
            var configuration = harness.configuration
            configuration.maxInFlight = 1
            configuration.ledger?.reconcileDelay = .seconds(4)
            let (worker, run) = try await harness.startWorker(configuration)
            let results = try await harness.results(forEvery: 6, within: 60)
            await worker.shutdown()
            try await run.value
            // One partition: the results topic's order is the order of acknowledgement.
            let order = results.map(\.1.requestID)
            #expect(order.last == "interrupted" && Set(order.dropLast()) == Set(fresh), "\(order)")
            #expect(results.allSatisfy { $0.1.status == .submitted }, "\(results.map(\.1))")
            #expect(harness.simulator.tasks.count == 6)
        }
    }

    @Test("a matching task created before the intent, beyond the clock skew, is not adopted", .timeLimit(.minutes(2)))
    func taskOlderThanTheWindow() async throws {
        let (result, simulator) = try await Self.reconcile("late", policy: .adoptOrFail, clockSkew: .seconds(1)) { harness in
            _ = try await Self.createTask(prompt: "prompt for late", harness)
            // Task times are whole seconds: 3 s later, with 1 s of skew, the task is out of the window.
            try await Task.sleep(for: .seconds(3))
            return []
        }
        #expect(result?.status == .failed && result?.error?.code == .outcomeUnknown, "\(String(describing: result))")
        #expect(simulator.tasks.count == 1)
    }
}
