import ArgumentParser
@testable import ChanjingWorkerCLI
import Foundation
import Testing
import TestSupport
import Worker

/// The deployment files must agree with the code: every environment variable they set is an
/// option, ports and probe paths are the worker's, grace periods exceed the drain timeout, alert
/// rules name metrics the worker exports. The contract is written from the code itself and
/// checked by `Tests/Deploy/check_deploy.py`, which parses every manifest.
@Suite("Deployment files")
struct DeployManifestTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../..").standardized

    /// What the deployment files are checked against, from the code.
    static func contract() throws -> Data {
        let options: [[String: Any]] = OptionCatalog.entries.map { entry in
            ["flag": entry.flag.map { $0 as Any } ?? NSNull(), "environment": entry.environment, "default": entry.defaultValue]
        }
        let contract: [String: Any] = [
            "options": options,
            "metrics": WorkerMetrics.names,
            "http": [
                "port": Int(OptionCatalog.entry("--http-port").defaultValue) ?? -1,
                "liveness": "/healthz", "readiness": "/readyz", "metrics": "/metrics",
            ],
            "drain_timeout_default_seconds": Int(OptionCatalog.entry("--drain-timeout").defaultValue) ?? -1,
            "subcommands": ChanjingWorkerCommand.configuration.subcommands.map { $0.configuration.commandName ?? "" },
            "exit_codes": [
                "configuration": ExitCodes.configuration.rawValue, "unavailable": ExitCodes.unavailable.rawValue,
                "failure": ExitCodes.failure.rawValue,
            ],
        ]
        return try JSONSerialization.data(withJSONObject: contract, options: [.prettyPrinted, .sortedKeys])
    }

    @Test("every manifest parses and agrees with the options table, ports, probes and metrics", .timeLimit(.minutes(1)))
    func manifests() async throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("deploy-contract-\(UUID().uuidString).json")
        try Self.contract().write(to: file)
        defer { try? FileManager.default.removeItem(at: file) }
        let (status, output) = try await runPython(
            [Self.root.appendingPathComponent("Tests/Deploy/check_deploy.py").path,
             "--deploy", Self.root.appendingPathComponent("deploy").path, "--contract", file.path]
        )
        #expect(status == 0, "\(output)")
        #expect(output.contains("checked"), "\(output)")
    }

    /// The shell scripts operators and CI run, checked by shellcheck itself (`.ci/setup` installs it).
    static let shellScripts = ["deploy/topics/provision-topics.sh", ".ci/setup", ".ci/test", ".ci/run", ".ci/fuzz"]

    @Test("shellcheck finds nothing in the shell scripts", .timeLimit(.minutes(1)))
    func shellScripts() throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["shellcheck", "--severity=style"] + Self.shellScripts
        process.currentDirectoryURL = Self.root
        let pipe = Pipe()
        (process.standardOutput, process.standardError) = (pipe, pipe)
        try process.run()
        // Read before waiting: a full pipe would otherwise block the child forever.
        let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus == 0, "shellcheck (run .ci/setup to install it):\n\(output)")
    }
}
