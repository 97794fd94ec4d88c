import Chanjing
@testable import ChanjingWorkerCLI
import ChanjingSimulator
import Foundation
import Primitives
import ServiceLifecycle
import Testing
import TestSupport

/// `chanjing-worker token-refresher` as the real binary against the simulator.
@Suite("The token refresher process", .serialized)
struct TokenRefresherTests {
    @Test("with LOG_FORMAT=json it logs JSON lines, writes the token file and stops on SIGTERM; an unknown format stops it at start-up", .timeLimit(.minutes(1)))
    func logFormat() async throws {
        let simulator = ChanjingSimulator(configuration: SimulatorConfiguration())
        let server = try await SimulatorServer.start(simulator, logger: TestLogging.logger())
        do {
            try await refresh(server.baseURL, simulator)
        } catch {
            await server.stop()
            throw error
        }
        await server.stop()
    }

    private func refresh(_ baseURL: String, _ simulator: ChanjingSimulator) async throws {
        try await withTimeout(50) {
            let file = FileManager.default.temporaryDirectory.appendingPathComponent("token-\(UUID().uuidString)")
            defer { try? FileManager.default.removeItem(at: file) }
            var environment = [
                "CHANJING_APP_ID": simulator.configuration.appID, "CHANJING_SECRET_KEY": simulator.configuration.secretKey,
                "CHANJING_BASE_URL": baseURL, "LOG_FORMAT": "json",
            ]
            let refresher = try WorkerProcess(arguments: ["token-refresher", "--file", file.path], environment: environment)
            try await eventually(20, "the token file written") { FileManager.default.fileExists(atPath: file.path) }
            refresher.signal(SIGTERM)
            let ended = await refresher.waitForExit(within: 20)
            #expect(ended.status == 0, "\(ended.output)")
            let lines = ended.output.split(separator: "\n")
            #expect(!lines.isEmpty)
            for line in lines {
                #expect((try? JSONSerialization.jsonObject(with: Data(line.utf8))) is [String: Any], "not a JSON line: \(line)")
            }

            environment["LOG_FORMAT"] = "yaml"
            let refused = try WorkerProcess(arguments: ["token-refresher", "--file", file.path], environment: environment)
            let stopped = await refused.waitForExit(within: 20)
            #expect(stopped.status == 78 && stopped.output.contains("--log-format 'yaml'"), "\(stopped.output)")
        }
    }

    @Test("its /metrics counts tokens written and failed fetches, both at 0 from the start", .timeLimit(.minutes(1)))
    func metrics() async throws {
        let simulator = ChanjingSimulator(configuration: SimulatorConfiguration())
        let server = try await SimulatorServer.start(simulator, logger: TestLogging.logger())
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("token-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: file) }
        let good = try ChanjingClient(configuration: .init(baseURL: server.baseURL))
        // Nothing listens on port 1: every fetch fails.
        let bad = try ChanjingClient(configuration: .init(baseURL: "http://127.0.0.1:1", requestTimeout: .seconds(2)))
        try await withTimeout(40, "refresher metrics", thenStop: {
            try? await good.shutdown()
            try? await bad.shutdown()
            await server.stop()
        }) {
            for (client, expected) in [(good, "success"), (bad, "failure")] {
                let metrics = RefresherMetrics()
                let port = Promise<Int>()
                let refresher = TokenFileRefresher(
                    client: client, appID: simulator.configuration.appID, secretKey: simulator.configuration.secretKey, path: file.path,
                    logger: TestLogging.logger(), onRefresh: metrics.refreshed
                )
                let group = ServiceGroup(
                    configuration: .init(
                        services: [RefresherService(refresher: refresher), metrics.server(port: 0, logger: TestLogging.logger()) { port.fulfill($0) }],
                        logger: TestLogging.logger()
                    )
                )
                let running = Task { try await group.run() }
                let base = "http://127.0.0.1:\(await port.value)"
                try await eventually(20, "a \(expected) counted") {
                    let body = (try? await httpGet("\(base)/metrics").body) ?? ""
                    return (prometheusValue(#"chanjing_token_refresher_refreshes_total{outcome="\#(expected)"}"#, in: body) ?? 0) >= 1
                }
                let body = try await httpGet("\(base)/metrics").body
                let other = expected == "success" ? "failure" : "success"
                #expect(prometheusValue(#"chanjing_token_refresher_refreshes_total{outcome="\#(other)"}"#, in: body) == 0, "\(body)")
                let lastSuccess = prometheusValue("chanjing_token_refresher_last_success_timestamp_seconds", in: body) ?? 0
                #expect((lastSuccess > 0) == (expected == "success"), "\(body)")
                #expect(try await httpGet("\(base)/healthz").status == 200)
                await group.triggerGracefulShutdown()
                try await running.value
            }
        }
    }
}
