import Foundation

/// The worker binary run as a child of the benchmark, with its CPU time and peak memory read
/// from /proc (Linux).
final class ChildProcess {
    private let process = Process()

    /// Starts `executable`; its standard error goes to `standardError` when given (else to
    /// this process's).
    init(executable: URL, arguments: [String], environment: [String: String], standardError: FileHandle? = nil) throws {
        process.executableURL = executable
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("CHANJING_") && !$0.key.hasPrefix("KAFKA_") }
            .merging(environment) { $1 }
        process.standardOutput = FileHandle.nullDevice
        if let standardError { process.standardError = standardError }
        try process.run()
    }

    var isRunning: Bool { process.isRunning }

    /// User plus system CPU seconds used so far.
    var cpuSeconds: Double { Self.cpuSeconds(of: "\(process.processIdentifier)") }

    /// User plus system CPU seconds used so far by `process`: a process ID, or "self".
    static func cpuSeconds(of process: String) -> Double {
        guard let stat = try? String(contentsOfFile: "/proc/\(process)/stat", encoding: .utf8),
            let close = stat.lastIndex(of: ")")
        else { return 0 }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        // After the command name: state is field 3, utime 14 and stime 15 (1-based, whole line).
        guard fields.count > 13, let user = Double(fields[11]), let system = Double(fields[12]) else { return 0 }
        return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
    }

    /// Voluntary context switches so far, over all the process's threads: how often a thread went
    /// to sleep waiting for something (each one a later wake-up).
    var voluntaryContextSwitches: Int {
        let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(process.processIdentifier)/task")) ?? []
        return tasks.reduce(0) { total, task in
            guard let status = try? String(contentsOfFile: "/proc/\(process.processIdentifier)/task/\(task)/status", encoding: .utf8),
                let line = status.split(separator: "\n").first(where: { $0.hasPrefix("voluntary_ctxt_switches:") }),
                let count = Int(line.split(separator: "\t").last?.trimmingCharacters(in: .whitespaces) ?? "")
            else { return total }
            return total + count
        }
    }

    /// Peak resident memory so far, in MiB (VmHWM).
    var peakRSSMiB: Double {
        guard let status = try? String(contentsOfFile: "/proc/\(process.processIdentifier)/status", encoding: .utf8),
            let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }),
            let kilobytes = Double(line.split(separator: " ").dropFirst().first ?? "")
        else { return 0 }
        return kilobytes / 1024
    }

    /// Sends SIGTERM and waits for the exit status (SIGKILL after `seconds`).
    func stop(within seconds: Double) async -> Int32 {
        kill(process.processIdentifier, SIGTERM)
        let deadline = ContinuousClock.now + .seconds(seconds)
        while process.isRunning, ContinuousClock.now < deadline { try? await Task.sleep(for: .milliseconds(50)) }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
        return process.terminationStatus
    }
}
