import ArgumentParser
import ChanjingSimulator
import Foundation
import Hummingbird
import Logging

/// `chanjing-worker simulator`: the Chanjing look-alike on its own, for staging and manual tests.
struct SimulatorCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "simulator",
        abstract: "Serve a Chanjing simulator (token, submit, task and task-page endpoints)."
    )

    @Option(help: "Address to listen on.") var host = "127.0.0.1"
    @Option(help: "Port to listen on; 0 picks a free one.") var port = 8080
    @Option(help: "The app ID the simulator accepts.") var appID = "sim-app"
    @Option(help: "The secret key the simulator accepts (env SIMULATOR_SECRET_KEY overrides).") var secretKey = "sim-secret"
    @Option(help: "Seconds issued tokens last.") var tokenLifetime: Double = 86_400
    @Option(help: "Least submit latency, milliseconds.") var minLatencyMs: Double = 0
    @Option(help: "Most submit latency, milliseconds.") var maxLatencyMs: Double = 0
    @Option(help: "Share of submits answered 50000 without creating a task (0 to 1).") var failureRate: Double = 0
    @Option(help: "Submits per second accepted before answering 40001.") var qpsLimit: Double?
    @Option(help: "Least render time of a task, seconds.") var minRenderSeconds: Double = 20
    @Option(help: "Most render time of a task, seconds.") var maxRenderSeconds: Double = 40
    @Option(help: "Share of renders that end Error or Fail (0 to 1).") var renderFailureRate: Double = 0
    @Option(help: "Log level.") var logLevel: Logger.Level = .info

    func validate() throws {
        guard maxLatencyMs >= minLatencyMs, minLatencyMs >= 0 else { throw ValidationError("--max-latency-ms must be at least --min-latency-ms") }
        guard (0...1).contains(failureRate) else { throw ValidationError("--failure-rate must be between 0 and 1") }
        guard tokenLifetime >= 1 else { throw ValidationError("--token-lifetime must be at least 1 second") }
        guard minRenderSeconds > 0, maxRenderSeconds >= minRenderSeconds else { throw ValidationError("--max-render-seconds must be at least --min-render-seconds, both positive") }
        guard (0...1).contains(renderFailureRate) else { throw ValidationError("--render-failure-rate must be between 0 and 1") }
    }

    func run() async throws {
        LogSetup.bootstrap(level: logLevel)
        let logger = Logger(label: "chanjing-simulator")
        let simulator = ChanjingSimulator(
            configuration: SimulatorConfiguration(
                appID: appID,
                secretKey: ProcessInfo.processInfo.environment["SIMULATOR_SECRET_KEY"] ?? secretKey,
                tokenLifetime: .milliseconds(Int64(tokenLifetime * 1000)),
                submitLatency: (minLatencyMs / 1000)...(maxLatencyMs / 1000),
                failureRate: failureRate,
                qpsLimit: qpsLimit,
                renderTime: minRenderSeconds...maxRenderSeconds,
                renderFailureRate: renderFailureRate
            )
        )
        let app = SimulatorServer.application(simulator: simulator, host: host, port: port, logger: logger) { [host] port in
            printLine("Chanjing simulator listening on http://\(host):\(port)")
        }
        try await app.runService()
    }
}

extension Logger.Level: @retroactive ExpressibleByArgument {}
