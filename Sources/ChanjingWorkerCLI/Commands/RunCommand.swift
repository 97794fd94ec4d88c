import ArgumentParser
import Foundation
import Logging
import UnixSignals
import Worker

/// `chanjing-worker run`: the production worker.
struct RunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Consume video requests, submit them to Chanjing, publish results.",
        discussion: "Credentials are read only from the environment: CHANJING_APP_ID and CHANJING_SECRET_KEY, or CHANJING_ACCESS_TOKEN, or CHANJING_ACCESS_TOKEN_FILE."
    )

    @OptionGroup var options: RunOptions

    func run() async throws {
        let resolved: ResolvedConfiguration
        do {
            resolved = try ConfigurationResolver(options: options, environment: ProcessInfo.processInfo.environment).resolve()
        } catch {
            printError("chanjing-worker: configuration error: \(error)")
            throw ExitCodes.configuration
        }
        LogSetup.bootstrap(level: resolved.logLevel, format: resolved.logFormat)
        let logger = Logger(label: "chanjing-worker")
        logger.info(
            "Starting",
            metadata: [
                "brokers": "\(resolved.worker.brokers)", "group": "\(resolved.worker.groupID)",
                "requests_topic": "\(resolved.worker.requestsTopic)", "results_topic": "\(resolved.worker.resultsTopic)",
                "chanjing": "\(resolved.worker.chanjing.baseURL)", "credentials": "\(resolved.credentials)",
                "kafka_properties": "\(resolved.worker.kafkaProperties)",
            ]
        )
        let runtime: WorkerRuntime
        do {
            runtime = try await WorkerRuntime(
                configuration: resolved.worker,
                credentials: resolved.credentials,
                gracefulShutdownSignals: [.sigterm, .sigint],
                logger: logger
            )
        } catch {
            printError("chanjing-worker: cannot start: \(error)")
            throw error.isConfiguration ? ExitCodes.configuration : ExitCodes.unavailable
        }
        do {
            try await runtime.run()
        } catch {
            printError("chanjing-worker: stopped: \(error)")
            throw ExitCodes.failure
        }
    }
}

/// Writes one line to standard error.
func printError(_ line: String) {
    FileHandle.standardError.write(Data((line + "\n").utf8))
}

/// Writes one line to standard output at once, even when it is a pipe or a file (scripts wait
/// for lines such as the mock broker's address).
func printLine(_ line: String) {
    FileHandle.standardOutput.write(Data((line + "\n").utf8))
}
