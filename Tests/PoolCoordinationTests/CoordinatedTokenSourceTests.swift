import Chanjing
import ChanjingSimulator
import Foundation
import Kafka
import PoolCoordination
import Synchronization
import Testing
import TestSupport

/// Pool members sharing one token through a real coordination topic (the mock cluster) against
/// the simulator, whose every token fetch invalidates the previous token.
@Suite("Coordinated token source", .serialized)
struct CoordinatedTokenSourceTests {
    /// A member: its source running as a service, and the producer it appends with.
    struct Member: Sendable {
        let source: CoordinatedTokenSource
        let producer: KafkaProducer
        let running: Task<Void, any Error>

        func stop() async {
            running.cancel()
            _ = await running.result
            await producer.shutdown()
        }
    }

    /// The pool under test: the cluster, the simulator, a client on it, and the members joined so
    /// far, which the fixture stops whether the test passed or not.
    final class Pool: Sendable {
        let kafka: KafkaTestCluster
        let simulator: ChanjingSimulator
        let client: ChanjingClient
        private let members = Mutex<[String: Member]>([:])

        init(kafka: KafkaTestCluster, simulator: ChanjingSimulator, client: ChanjingClient) {
            (self.kafka, self.simulator, self.client) = (kafka, simulator, client)
        }

        /// A new member named `name`, its source running as a service.
        func join(_ name: String, secretKey: String = "sim-secret") throws -> Member {
            let producer = try KafkaProducer(properties: kafka.clientProperties, logger: TestLogging.logger("producer"))
            let source = CoordinatedTokenSource(
                configuration: .init(
                    topic: kafka.coordinationTopic, appID: "sim-app", secretKey: secretKey,
                    settings: .init(claimLapse: .seconds(5)), maxWait: .seconds(20), startupTimeout: .seconds(10), member: name
                ),
                client: client, producer: producer, readerProperties: kafka.clientProperties, logger: TestLogging.logger(name)
            )
            let member = Member(source: source, producer: producer, running: Task { try await source.run() })
            members.withLock { $0[name] = member }
            return member
        }

        /// Stops the member named `name`, if it still runs.
        func leave(_ name: String) async {
            await members.withLock { $0.removeValue(forKey: name) }?.stop()
        }

        func stopAll() async {
            for member in members.withLock({ members in defer { members = [:] }; return Array(members.values) }) { await member.stop() }
        }
    }

    static func withPool(tokenLifetime: Duration, _ body: @escaping @Sendable (Pool) async throws -> Void) async throws {
        let kafka = try KafkaTestCluster(partitions: 1)
        let simulator = ChanjingSimulator(configuration: SimulatorConfiguration(tokenLifetime: tokenLifetime))
        let server = try await SimulatorServer.start(simulator, logger: TestLogging.logger())
        let client = try ChanjingClient(configuration: .init(baseURL: server.baseURL, requestTimeout: .seconds(3)))
        let pool = Pool(kafka: kafka, simulator: simulator, client: client)
        try await withTimeout(100, "coordinated pool", thenStop: {
            await pool.stopAll()
            try? await client.shutdown()
            await server.stop()
            await kafka.shutdown()
        }) { try await body(pool) }
    }

    /// One token-guarded call that creates nothing (a task page): true when answered, false on a
    /// refused token; anything else is thrown.
    static func pageAnswered(_ client: ChanjingClient, _ tokens: CoordinatedTokenSource) async throws -> Bool {
        do {
            _ = try await client.taskPage(page: 1, pageSize: 1, tokens: tokens)
            return true
        } catch where error.disposition == .refreshToken {
            return false
        }
    }

    @Test("three members calling all along over several token lifetimes: one fetch per lifetime for the whole pool, every call gets through", .timeLimit(.minutes(2)))
    func oneTokenForThePool() async throws {
        try await Self.withPool(tokenLifetime: .seconds(3)) { pool in
            let (simulator, client) = (pool.simulator, pool.client)
            let members = try ["m1", "m2", "m3"].map { try pool.join($0) }
            let refusals = Tally()
            let calls = Tally()
            let started = ContinuousClock.now
            let duration = Duration.seconds(13)
            try await withThrowingTaskGroup(of: Void.self) { group in
                for member in members {
                    for _ in 0..<4 {
                        group.addTask {
                            while ContinuousClock.now - started < duration {
                                // A task page is a token-guarded call that creates nothing.
                                var answered = false
                                for _ in 0..<10 where !answered {
                                    answered = try await Self.pageAnswered(client, member.source)
                                    if !answered { refusals.add() }
                                }
                                #expect(answered, "a call got no valid token in 10 tries")
                                calls.add()
                                try await Task.sleep(for: .milliseconds(20))
                            }
                        }
                    }
                }
                try await group.waitForAll()
            }
            let lifetimes = Int((ContinuousClock.now - started) / .seconds(3)) + 1
            let fetches = simulator.stats.tokenFetches
            #expect(fetches <= lifetimes + 2, "\(fetches) token fetches over \(lifetimes) lifetimes")
            #expect(fetches >= 3, "tokens were refreshed as they expired")
            #expect(calls.count > 100)
            // Every member ends on the pool's one token, Chanjing's newest (a fetch under way
            // when the calls stopped is published and read first).
            try await eventually(10, "every member holds Chanjing's newest token") {
                let newest = simulator.issuedTokens.last
                return members.allSatisfy { $0.source.current?.value == newest }
            }
            print("coordinated pool: \(fetches) fetches over \(lifetimes) lifetimes, \(calls.count) calls, \(refusals.count) answered 10400 and retried")
        }
    }

    @Test("a member joining mid-lifetime fetches nothing; the topic's raw bytes hold no token, and nothing on it opens without the secret key", .timeLimit(.minutes(2)))
    func joinerAndSealedRecords() async throws {
        try await Self.withPool(tokenLifetime: .seconds(3600)) { pool in
            let (kafka, simulator) = (pool.kafka, pool.simulator)
            let first = try pool.join("first")
            let token = try await first.source.currentToken()
            #expect(simulator.stats.tokenFetches == 1)
            let joiner = try pool.join("joiner")
            #expect(try await joiner.source.currentToken() == token)
            #expect(simulator.stats.tokenFetches == 1)

            // A member with another secret cannot open the token: it never uses it.
            let outsider = try pool.join("outsider", secretKey: "not-the-secret")
            try await Task.sleep(for: .seconds(1))
            #expect(outsider.source.hasUsableToken == false)
            await pool.leave("outsider")

            let partition = TopicPartition(topic: kafka.coordinationTopic, partition: 0)
            let bounds = try await ClusterInspector.watermarkOffsets(
                properties: kafka.clientProperties, partitions: [partition], timeout: .seconds(10), logger: TestLogging.logger()
            )
            let records = try await PartitionReader.read(
                [partition: 0..<bounds[partition]!.high], properties: kafka.clientProperties, logger: TestLogging.logger()
            )
            #expect(!records.isEmpty)
            let raw = records.flatMap(\.value)
            #expect(!String(decoding: raw, as: UTF8.self).contains(token))
            #expect(!String(decoding: raw, as: UTF8.self).contains("sim-secret"))
            let wrongKey = TokenSeal(appID: "sim-app", secretKey: "not-the-secret")
            let rightKey = TokenSeal(appID: "sim-app", secretKey: "sim-secret")
            var sealedTokens = 0
            for record in records {
                guard case .token(_, _, let sealed) = CoordinationRecord.decode(record.value) else { continue }
                sealedTokens += 1
                #expect(wrongKey.open(sealed) == nil)
                #expect(rightKey.open(sealed) == token)
                #expect(!Data(sealed.sealed).base64EncodedString().contains(token))
            }
            #expect(sealedTokens == 1)
        }
    }
}

final class Tally: Sendable {
    private let value = Mutex(0)
    func add() { value.withLock { $0 += 1 } }
    var count: Int { value.withLock { $0 } }
}
