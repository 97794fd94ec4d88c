import Chanjing
import Foundation
import Kafka
import Primitives
import ChanjingSimulator
import Synchronization
import Testing
import TestSupport
import VideoContract
@testable import Worker

@Suite("Submitting with retries")
struct RequestProcessorTests {
    static let request = VideoRequest(requestID: "r-1", prompt: "a lighthouse in a storm")
    static let fastRetries = RetryPolicy(maxAttempts: 4, maxElapsed: .seconds(20), initialBackoff: .milliseconds(10), maxBackoff: .milliseconds(50))

    /// The results a processor published, and the offsets it stored or left.
    final class Outlets: ResultPublishing, OffsetStore {
        let results = Mutex<[VideoResult]>([])
        let finished = Mutex<[Int64]>([])
        let left = Mutex<[Int64]>([])
        /// The revocation the requests wait on; the test begins it to revoke their partition.
        let revocation = Mutex(Revocation())
        /// When set, results wait for it, as for Kafka's acknowledgement.
        let acknowledgement = Mutex<Promise<Void>?>(nil)

        func publish(_ result: VideoResult, for request: KafkaMessage, consumedAt: Date) async throws(WorkerFailure) -> Bool {
            results.withLock { $0.append(result) }
            await acknowledgement.withLock { $0 }?.value
            return true
        }

        func revocation(of message: KafkaMessage) -> Revocation { revocation.withLock { $0 } }
        /// Revokes the requests' partition.
        func revoke() { revocation.withLock { $0 }.begin() }
        func finish(_ message: KafkaMessage) { finished.withLock { $0.append(message.offset) } }
        func leave(_ message: KafkaMessage) { left.withLock { $0.append(message.offset) } }
    }

    /// A processor with the ledger off, driven one request at a time.
    struct Driver: Sendable {
        let processor: RequestProcessor
        let outlets: Outlets
        var circuit: CircuitBreaker { processor.chanjing.circuit }
        var tokens: any AccessTokenSource { processor.chanjing.tokens }

        /// The request's result, or nil when it was left unfinished (no result, offset left).
        func submit(_ request: VideoRequest, timestamp: Date? = nil) async throws -> VideoResult? {
            let offset = Int64.random(in: 0 ... .max)
            let message = KafkaMessage(topic: "requests", partition: 0, offset: offset, key: nil, value: [], timestamp: timestamp)
            let prepared = RequestProcessor.Prepared(message: message, decoded: .valid(request), keyTurn: nil, copyTurn: nil)
            _ = await processor.slots.take()
            defer { processor.slots.ended() }
            try await processor.process(prepared, consumedAt: Date())
            processor.release(prepared)
            if outlets.left.withLock({ $0.contains(offset) }) { return nil }
            #expect(outlets.finished.withLock { $0.contains(offset) }, "a request either commits or is left")
            return outlets.results.withLock { results in results.last { $0.source.offset == offset } }
        }
    }

    func withSubmitter(
        _ configuration: SimulatorConfiguration = SimulatorConfiguration(),
        credentials: ChanjingCredentials = .app(appID: "sim-app", secretKey: "sim-secret"),
        policy: RetryPolicy = fastRetries,
        circuit: CircuitState = CircuitState(failureThreshold: 1000, initialOpen: .milliseconds(300)),
        maxRequestAge: Duration? = nil,
        _ body: (ChanjingSimulator, Driver) async throws -> Void
    ) async throws {
        try await withSimulator(configuration) { simulator, client in
            let tokens = credentials.makeSource(client: client, logger: TestLogging.logger())
            let outlets = Outlets()
            let processor = RequestProcessor(
                decoder: RequestDecoder(limits: RequestLimits()),
                settings: RequestLifecycle.Settings(retry: policy, maxRequestAge: maxRequestAge),
                chanjing: ChanjingGateway(
                    client: client, tokens: tokens, limiter: RateLimiter(maxQPS: nil, poolMaxQPS: nil, totalPartitions: 1),
                    circuit: CircuitBreaker(state: circuit, logger: TestLogging.logger()),
                    reconciler: Reconciler(client: client, tokens: tokens, clockSkew: .zero), metrics: WorkerMetrics()
                ),
                ledger: nil, publisher: outlets, offsets: outlets, metrics: WorkerMetrics(), logger: TestLogging.logger()
            )
            try await body(simulator, Driver(processor: processor, outlets: outlets))
        }
    }

    @Test("a request whose result waits for Kafka's acknowledgement holds no --max-in-flight slot", .timeLimit(.minutes(1)))
    func resultWaitHoldsNoSlot() async throws {
        try await withSubmitter { _, submitter in
            let acknowledgement = Promise<Void>()
            submitter.outlets.acknowledgement.withLock { $0 = acknowledgement }
            let slots = submitter.processor.slots
            let submitted = Task { try await submitter.submit(Self.request) }
            while submitter.outlets.results.withLock({ $0.isEmpty }) { try await Task.sleep(for: .milliseconds(10)) }
            #expect(slots.active == 0, "the result is being written: its slot is free")
            _ = acknowledgement.fulfill(())
            let result = try await submitted.value
            #expect(result?.status == .submitted)
            #expect(slots.active == 0)
        }
    }

    @Test("40001 answers slow the worker down but never open the circuit", .timeLimit(.minutes(1)))
    func throttlingDoesNotOpenTheCircuit() async throws {
        let throttled = SimulatorConfiguration(qpsLimit: 5)
        let patient = RetryPolicy(maxAttempts: 1000, maxElapsed: .seconds(40), initialBackoff: .milliseconds(10), maxBackoff: .milliseconds(100))
        try await withSubmitter(throttled, policy: patient, circuit: CircuitState(failureThreshold: 3, initialOpen: .seconds(30))) { simulator, submitter in
            let outcomes = try await withThrowingTaskGroup(of: VideoResult?.self) { group in
                for index in 0..<30 {
                    group.addTask { try await submitter.submit(VideoRequest(requestID: "t-\(index)", prompt: "prompt \(index)")) }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(simulator.stats.throttled > 3, "the simulator answered 40001 more often than the circuit's threshold")
            #expect(outcomes.allSatisfy { $0?.status == .submitted })
            #expect(!submitter.circuit.isOpen)
        }
    }

    @Test("a submitted request carries the simulator's creation ID", .timeLimit(.minutes(1)))
    func submitted() async throws {
        try await withSubmitter { simulator, submitter in
            let outcome = try #require(try await submitter.submit(Self.request))
            #expect(outcome.status == .submitted)
            #expect(outcome.creationID == simulator.tasks.first?.uniqueID)
            #expect(outcome.attempts == 1)
        }
    }

    @Test("ambiguous failures are retried up to the attempt bound, then fail with retries_exhausted", .timeLimit(.minutes(1)))
    func exhausted() async throws {
        try await withSubmitter(SimulatorConfiguration(failureRate: 1)) { simulator, submitter in
            let outcome = try #require(try await submitter.submit(Self.request))
            #expect(outcome.status == .failed)
            #expect(outcome.error?.code == .retriesExhausted)
            #expect(outcome.error?.chanjingCode == 50000)
            #expect(outcome.attempts == 4)
            #expect(outcome.retries == .init(safe: 0, ambiguous: 3))
            #expect(simulator.stats.submitCalls == 4)
        }
    }

    @Test("a revoked request makes no call and is left; an expired one ends without a call", .timeLimit(.minutes(1)))
    func revokedOrExpired() async throws {
        try await withSubmitter(maxRequestAge: .seconds(60)) { simulator, submitter in
            submitter.outlets.revoke()
            #expect(try await submitter.submit(Self.request) == nil, "a revoked request is left to its next owner")
            submitter.outlets.revocation.withLock { $0 = Revocation() }
            let old = try #require(try await submitter.submit(Self.request, timestamp: Date().addingTimeInterval(-120)))
            #expect(old.error?.code == .expired)
            #expect(simulator.stats.submitCalls == 0)
        }
    }

    @Test("a request revoked while it waits for a new token makes no call", .timeLimit(.minutes(1)))
    func revokedWhileWaitingForToken() async throws {
        var slowTokens = SimulatorConfiguration()
        slowTokens.tokenLatency = .milliseconds(1500)
        try await withSubmitter(slowTokens) { simulator, submitter in
            // Revoked 300 ms into the first token fetch: nothing is sent.
            Task {
                try await Task.sleep(for: .milliseconds(300))
                submitter.outlets.revoke()
            }
            let started = ContinuousClock.now
            let left = try await submitter.submit(Self.request)
            #expect(left == nil)
            #expect(ContinuousClock.now - started < .milliseconds(1200), "the revocation ends the wait, not the token's arrival")
            #expect(simulator.stats.submitCalls == 0)
        }
    }

    @Test("the total-time bound stops retries before the attempt bound", .timeLimit(.minutes(1)))
    func timeBound() async throws {
        let policy = RetryPolicy(maxAttempts: 100, maxElapsed: .milliseconds(400), initialBackoff: .milliseconds(100), maxBackoff: .milliseconds(100))
        try await withSubmitter(SimulatorConfiguration(failureRate: 1), policy: policy) { _, submitter in
            let outcome = try #require(try await submitter.submit(Self.request))
            #expect(outcome.error?.code == .retriesExhausted)
            #expect(outcome.attempts < 100)
        }
    }

    @Test("throttling is a safe retry and recovers", .timeLimit(.minutes(1)))
    func throttled() async throws {
        let patient = RetryPolicy(maxAttempts: 30, maxElapsed: .seconds(20), initialBackoff: .milliseconds(300), maxBackoff: .milliseconds(300))
        try await withSubmitter(SimulatorConfiguration(qpsLimit: 1), policy: patient) { simulator, submitter in
            _ = try await submitter.submit(Self.request)  // uses the burst
            let outcome = try #require(try await submitter.submit(Self.request))
            #expect(outcome.status == .submitted)
            #expect(outcome.retries.safe >= 1)
            #expect(outcome.retries.ambiguous == 0)
            #expect(simulator.stats.throttled >= 1)
        }
    }

    @Test("an invalidated token is replaced and the request still goes through", .timeLimit(.minutes(1)))
    func invalidatedToken() async throws {
        try await withSubmitter { simulator, submitter in
            _ = try await submitter.submit(Self.request)
            _ = simulator.accessToken(body: Array(#"{"app_id":"sim-app","secret_key":"sim-secret"}"#.utf8))
            let outcome = try #require(try await submitter.submit(Self.request))
            #expect(outcome.status == .submitted)
            #expect(outcome.attempts == 2)
            #expect(outcome.retries.safe == 1)
        }
    }

    @Test("Chanjing's parameter refusal is final and not retried", .timeLimit(.minutes(1)))
    func rejected() async throws {
        try await withSubmitter { simulator, submitter in
            var bad = Self.request
            bad.videoDuration = 7  // passes nothing of ours, but Chanjing refuses it
            let rejected = try #require(try await submitter.submit(bad))
            #expect(rejected.status == .rejected)
            #expect(rejected.error?.code == .chanjingRejected)
            #expect(rejected.error?.chanjingCode == 40000)
            #expect(simulator.stats.submitCalls == 1)
        }
    }

    @Test("an exhausted balance opens the circuit: the request waits, then goes through once topped up", .timeLimit(.minutes(1)))
    func balanceCircuit() async throws {
        try await withSubmitter(SimulatorConfiguration(balance: 0)) { simulator, submitter in
            let pending = Task { try await submitter.submit(Self.request) }
            try await eventually(10, "a balance refusal") { simulator.stats.balanceRefusals >= 1 }
            try await Task.sleep(for: .milliseconds(400))
            #expect(simulator.tasks.isEmpty)
            simulator.configure { $0.balance = nil }
            let outcome = try #require(try await pending.value)
            #expect(outcome.status == .submitted)
            #expect(outcome.attempts >= 2)
        }
    }

    @Test("refused credentials open the circuit instead of failing; shutdown leaves the request unfinished", .timeLimit(.minutes(1)))
    func refusedCredentials() async throws {
        try await withSubmitter(credentials: .app(appID: "sim-app", secretKey: "wrong")) { simulator, submitter in
            let pending = Task { try await submitter.submit(Self.request) }
            try await Task.sleep(for: .milliseconds(700))
            pending.cancel()
            #expect(try await pending.value == nil)
            #expect(simulator.stats.submitCalls == 0)
        }
    }

    @Test("a long run of failures opens the circuit; requests wait instead of exhausting their retries", .timeLimit(.minutes(1)))
    func outageCircuit() async throws {
        let circuit = CircuitState(failureThreshold: 3, initialOpen: .milliseconds(300))
        try await withSubmitter(SimulatorConfiguration(failureRate: 1), circuit: circuit) { simulator, submitter in
            let pending = Task { try await submitter.submit(Self.request) }
            try await eventually(10, "the circuit to open") { simulator.stats.submitCalls >= 3 }
            try await Task.sleep(for: .milliseconds(800))
            simulator.configure { $0.failureRate = 0 }
            let outcome = try #require(try await pending.value)
            #expect(outcome.status == .submitted)
        }
    }

    @Test("a request older than --max-request-age ends expired without a call", .timeLimit(.minutes(1)))
    func expired() async throws {
        try await withSubmitter(maxRequestAge: .seconds(60)) { simulator, submitter in
            let old = try #require(try await submitter.submit(Self.request, timestamp: Date().addingTimeInterval(-61)))
            #expect(old.status == .failed)
            #expect(old.error?.code == .expired)
            let fresh = try #require(try await submitter.submit(Self.request, timestamp: Date().addingTimeInterval(-30)))
            #expect(fresh.status == .submitted)
            #expect(simulator.stats.submitCalls == 1)
        }
    }

    @Test("a call in flight is not cancelled halfway: its outcome is reported", .timeLimit(.minutes(1)))
    func callNotCancelled() async throws {
        try await withSubmitter(SimulatorConfiguration(submitLatency: 0.6...0.6)) { simulator, submitter in
            let task = Task { try await submitter.submit(Self.request) }
            try await Task.sleep(for: .milliseconds(200))
            task.cancel()
            let outcome = try await task.value
            #expect(outcome?.status == .submitted)
            #expect(outcome?.creationID == simulator.tasks.first?.uniqueID)
        }
    }

    @Test("a submission cancelled while backing off produces no outcome (it is redelivered, not failed)", .timeLimit(.minutes(1)))
    func cancelled() async throws {
        try await withSubmitter(SimulatorConfiguration(failureRate: 1), policy: RetryPolicy(maxAttempts: 50, maxElapsed: .seconds(60), initialBackoff: .seconds(1), maxBackoff: .seconds(1))) { _, submitter in
            let task = Task { try await submitter.submit(Self.request) }
            try await Task.sleep(for: .milliseconds(300))
            task.cancel()
            #expect(try await task.value == nil)
        }
    }
}
