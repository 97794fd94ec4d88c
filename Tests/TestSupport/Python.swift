import Foundation

/// Runs `python3 <arguments>` and returns its exit status and combined output. The test
/// command installs the Python packages the checks use (`.ci/setup`).
public func runPython(_ arguments: [String], within seconds: Double = 50) async throws -> (status: Int32, output: String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = ["python3"] + arguments
    let output = Pipe()
    process.standardOutput = output
    process.standardError = output
    try process.run()
    // Read while it runs, so a long report cannot fill the pipe and block the child.
    let reader = Task.detached { output.fileHandleForReading.readDataToEndOfFile() }
    let deadline = ContinuousClock.now + .seconds(seconds)
    while process.isRunning, ContinuousClock.now < deadline {
        try await Task.sleep(for: .milliseconds(50))
    }
    if process.isRunning { process.terminate() }
    process.waitUntilExit()
    let data = await reader.value
    return (process.terminationStatus, String(decoding: data, as: UTF8.self))
}
