import Chanjing
import ChanjingSimulator
import Foundation
import Testing
import TestSupport

@Suite("Chanjing client against the simulator")
struct ChanjingClientTests {
    static let task = SubmitTaskRequest(
        prompt: "a red kite over the sea", referenceImageURLs: [], creationType: 4, aspectRatio: "16:9",
        qualityMode: "std", videoDuration: 5, modelCode: "kling-v2-5-turbo-normal"
    )

    @Test("submit returns the creation ID; the task can be read back", .timeLimit(.minutes(1)))
    func submitAndRead() async throws {
        try await withSimulator { simulator, client in
            let tokens = CredentialsTokenSource(appID: "sim-app", secretKey: "sim-secret", client: client, logger: TestLogging.logger())
            let response = try await client.submit(Self.task, tokens: tokens)
            #expect(simulator.tasks.map(\.uniqueID) == [response.creationID])
            #expect(simulator.tasks.first?.prompt == "a red kite over the sea")
            #expect(response.traceID?.isEmpty == false)
            let task = try await client.task(uniqueID: response.creationID, tokens: tokens)
            #expect(task.uniqueID == response.creationID)
            #expect(task.progressDescription == "Queued")
        }
    }

    @Test("Chanjing's parameter errors come back as rejections with the code", .timeLimit(.minutes(1)))
    func parameterError() async throws {
        try await withSimulator { _, client in
            let tokens = CredentialsTokenSource(appID: "sim-app", secretKey: "sim-secret", client: client, logger: TestLogging.logger())
            var bad = Self.task
            bad.videoDuration = 7
            let error = await failure { () throws(ChanjingError) in _ = try await client.submit(bad, tokens: tokens) }
            #expect(error?.chanjingCode == 40000)
            #expect(error?.disposition == .rejected)
        }
    }

    @Test("a token invalidated by another fetch is reported and replaced", .timeLimit(.minutes(1)))
    func invalidatedToken() async throws {
        try await withSimulator { simulator, client in
            let tokens = CredentialsTokenSource(appID: "sim-app", secretKey: "sim-secret", client: client, logger: TestLogging.logger())
            _ = try await client.submit(Self.task, tokens: tokens)
            // Another process with the same app_id fetches a token: ours is now invalid.
            _ = simulator.accessToken(body: Array(#"{"app_id":"sim-app","secret_key":"sim-secret"}"#.utf8))
            let error = await failure { () throws(ChanjingError) in _ = try await client.submit(Self.task, tokens: tokens) }
            #expect(error?.chanjingCode == 10400)
            #expect(error?.disposition == .refreshToken)
            _ = try await client.submit(Self.task, tokens: tokens)
            #expect(simulator.stats.tokenFetches == 3)
            #expect(simulator.tasks.count == 2)
        }
    }

    @Test("QPS limit, injected failures and an exhausted balance map to their dispositions", .timeLimit(.minutes(1)))
    func simulatedFailures() async throws {
        try await withSimulator(SimulatorConfiguration(failureRate: 1)) { simulator, client in
            let tokens = StaticTokenSource(token: try await CredentialsTokenSource(appID: "sim-app", secretKey: "sim-secret", client: client, logger: TestLogging.logger()).currentToken())
            let injected = await failure { () throws(ChanjingError) in _ = try await client.submit(Self.task, tokens: tokens) }
            #expect(injected?.chanjingCode == 50000)
            #expect(injected?.disposition == .retryAmbiguous)
            simulator.configure { $0.failureRate = 0; $0.balance = 0 }
            let balance = await failure { () throws(ChanjingError) in _ = try await client.submit(Self.task, tokens: tokens) }
            #expect(balance?.disposition == .quotaExhausted)
            simulator.configure { $0.balance = nil; $0.qpsLimit = 2 }
            var throttled = 0
            for _ in 0..<6 {
                do throws(ChanjingError) {
                    _ = try await client.submit(Self.task, tokens: tokens)
                } catch {
                    if error.chanjingCode == 40001 { throttled += 1 }
                }
            }
            #expect(throttled >= 3)
            #expect(simulator.tasks.isEmpty == false)
        }
    }

    @Test("a refused connection is a safe failure: the request was never sent", .timeLimit(.minutes(1)))
    func connectionRefused() async throws {
        // Bind and close a listener to get a port nothing listens on.
        let simulator = ChanjingSimulator()
        let server = try await SimulatorServer.start(simulator, logger: TestLogging.logger())
        let url = server.baseURL
        await server.stop()
        let client = try ChanjingClient(configuration: .init(baseURL: url, connectTimeout: .seconds(1), requestTimeout: .seconds(3)))
        // Nothing here throws before the shutdown: the client is closed whatever the outcome.
        let error = await failure { () throws(ChanjingError) in _ = try await client.submit(Self.task, token: "t") }
        try await client.shutdown()
        #expect(error?.disposition == .retrySafe, "\(String(describing: error))")
    }
}

/// The error `body` threw, or nil (recording an issue) when it succeeded.
func failure(_ body: () async throws(ChanjingError) -> Void) async -> ChanjingError? {
    do {
        try await body()
        Issue.record("expected a ChanjingError")
        return nil
    } catch {
        return error
    }
}
