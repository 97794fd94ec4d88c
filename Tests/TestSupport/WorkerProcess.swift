import Foundation

/// The `chanjing-worker` binary run as a child process, so tests can kill it like a supervisor
/// or the kernel would.
public final class WorkerProcess: @unchecked Sendable {  // Process is thread-safe for these calls.
    private let process = Process()
    private let output: Pipe

    /// The built executable: beside the test bundle in the build folder.
    public static var executable: URL {
        var directory = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        // On Linux the runner is `<build>/<name>PackageTests.xctest` itself.
        if directory.lastPathComponent.hasSuffix(".xctest") { directory.deleteLastPathComponent() }
        return directory.appendingPathComponent("chanjing-worker")
    }

    /// Starts `chanjing-worker <arguments>` with `environment` (and nothing else of ours).
    public init(arguments: [String], environment: [String: String]) throws {
        process.executableURL = Self.executable
        process.arguments = arguments
        var base = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("CHANJING_") && !$0.key.hasPrefix("KAFKA_") }
        base.merge(environment) { $1 }
        process.environment = base
        output = Pipe()
        process.standardOutput = output
        process.standardError = output
        try process.run()
    }

    public var isRunning: Bool { process.isRunning }
    public var processIdentifier: Int32 { process.processIdentifier }

    /// Sends `signal` if the process is still running.
    public func signal(_ signal: Int32) {
        if process.isRunning { kill(process.processIdentifier, signal) }
    }

    /// Waits for the process to end (up to `seconds`, then kills it) and returns its exit status
    /// and everything it printed.
    public func waitForExit(within seconds: Double) async -> (status: Int32, output: String) {
        let deadline = ContinuousClock.now + .seconds(seconds)
        while process.isRunning, ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(50))
        }
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
        let data = output.fileHandleForReading.readDataToEndOfFile()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }
}
