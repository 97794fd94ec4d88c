import ChanjingSimulator
import Foundation
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
}
