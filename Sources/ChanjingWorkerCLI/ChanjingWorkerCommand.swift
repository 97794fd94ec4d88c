import ArgumentParser

/// `chanjing-worker`: the Kafka → Chanjing video worker and its companions.
public struct ChanjingWorkerCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "chanjing-worker",
        abstract: "Turns video requests on Kafka into Kling v2.5 Turbo tasks on Chanjing.",
        subcommands: [RunCommand.self, DemoCommand.self, SimulatorCommand.self, MockKafkaCommand.self, OptionsTableCommand.self, BenchCommand.self, TokenRefresherCommand.self, LagCommand.self, PoolCommand.self, EnqueueCommand.self, ReplayCommand.self, ProbeCommand.self]
    )

    public init() {}

    /// Parses the process arguments and runs the chosen subcommand, exiting with its status.
    /// (What `AsyncParsableCommand.main()` does, callable from another module's `main.swift`.)
    public static func runFromCommandLine() async -> Never {
        do {
            var command = try parseAsRoot()
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
            exit()
        } catch {
            exit(withError: error)
        }
    }
}

/// Exit codes from sysexits.h, so supervisors can tell a bad configuration from an outage.
enum ExitCodes {
    /// Bad configuration: restarting will not help.
    static let configuration = ExitCode(78)
    /// A dependency (Kafka) is unavailable or a topic is missing at start-up.
    static let unavailable = ExitCode(69)
    /// The worker failed while running.
    static let failure = ExitCode(1)
}
