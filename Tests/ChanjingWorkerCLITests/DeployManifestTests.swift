import ArgumentParser
@testable import ChanjingWorkerCLI
import Foundation
import Testing
import TestSupport
import Worker

/// The deployment files pass the tools operators run (kubernetes-validate, promtool, shellcheck,
/// hadolint, systemd-analyze) and agree with the code: every environment variable they set is an option, ports
/// and probe paths are the worker's, grace periods exceed the drain timeout, alert rules name
/// metrics the worker exports (`Tests/Deploy/check_deploy.py`, against the contract the code
/// writes).
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

    static let sampleContract = root.appendingPathComponent("Tests/Deploy/sample-contract.json")

    @Test("Tests/Deploy/sample-contract.json is the contract the code writes", .timeLimit(.minutes(1)))
    func sampleContractCurrent() throws {
        let written = try Self.contract()
        let sample = try JSONSerialization.jsonObject(with: Data(contentsOf: Self.sampleContract)) as? NSDictionary
        let current = try JSONSerialization.jsonObject(with: written) as? NSDictionary
        if sample != current {
            let file = FileManager.default.temporaryDirectory.appendingPathComponent("deploy-contract.json")
            try written.write(to: file)
            Issue.record("Tests/Deploy/sample-contract.json is out of date: copy \(file.path) over it")
        }
    }

    @Test("every manifest agrees with the options table, ports, probes and metrics (check_deploy.py)", .timeLimit(.minutes(1)))
    func manifests() async throws {
        let (status, output) = try await runPython(
            [Self.root.appendingPathComponent("Tests/Deploy/check_deploy.py").path,
             "--deploy", Self.root.appendingPathComponent("deploy").path, "--contract", Self.sampleContract.path]
        )
        #expect(status == 0, "\(output)")
        #expect(output.contains("checked: no problems"), "\(output)")
    }

    @Test("promtool checks the alert rules, and its unit tests show each alert firing on its condition and silent otherwise", .timeLimit(.minutes(1)))
    func alerts() async throws {
        let (status, output) = try await runPython(
            [Self.root.appendingPathComponent("Tests/Deploy/check_alerts.py").path,
             "--rules", Self.root.appendingPathComponent("deploy/kubernetes/prometheus-rules.yaml").path,
             "--tests", Self.root.appendingPathComponent("Tests/Deploy/alerts.test.yaml").path]
        )
        #expect(status == 0, "\(output)")
        #expect(output.contains("checked"), "\(output)")
    }

    /// Kubernetes versions the manifests must be valid for: the oldest still maintained by the
    /// large cloud providers, and newer ones.
    static let kubernetesVersions = ["1.27.0", "1.30.0", "1.33.0"]

    @Test("kubernetes-validate accepts every Kubernetes manifest, strictly, for each supported version", .timeLimit(.minutes(2)))
    func kubernetesSchemas() throws {
        let folder = Self.root.appendingPathComponent("deploy/kubernetes")
        let manifests = try #require(FileManager.default.enumerator(atPath: folder.path)).compactMap { $0 as? String }
            .filter { $0.hasSuffix(".yaml") && !$0.hasSuffix("kustomization.yaml") }.sorted()
        #expect(manifests.count >= 9, "\(manifests)")
        for version in Self.kubernetesVersions {
            let (status, output) = try Self.run(["kubernetes-validate", "--strict", "-k", version] + manifests.map { "deploy/kubernetes/\($0)" })
            #expect(status == 0 && !output.contains("ERROR"), "kubernetes-validate \(version) (run .ci/setup to install it):\n\(output)")
            #expect(output.contains("passed for resource deployment/chanjing-worker"), "\(output)")
        }
    }

    /// The shell scripts operators and CI run, checked by shellcheck itself (`.ci/setup` installs it).
    static let shellScripts = ["deploy/topics/provision-topics.sh", ".ci/setup", ".ci/test", ".ci/run", ".ci/fuzz"]

    @Test("shellcheck finds nothing in the shell scripts", .timeLimit(.minutes(1)))
    func shellScripts() throws {
        let (status, output) = try Self.run(["shellcheck", "--severity=style"] + Self.shellScripts)
        #expect(status == 0, "shellcheck (run .ci/setup to install it):\n\(output)")
    }

    @Test("hadolint finds nothing in the Dockerfile", .timeLimit(.minutes(1)))
    func dockerfile() throws {
        let (status, output) = try Self.run(["hadolint", "--no-color", "deploy/Dockerfile"])
        #expect(status == 0, "hadolint (run .ci/setup to install it):\n\(output)")
    }

    @Test("systemd-analyze verify accepts the units, without a warning", .timeLimit(.minutes(1)))
    func systemdUnits() throws {
        // The units start /usr/local/bin/chanjing-worker, which verify requires to exist: copies
        // point at a stand-in.
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("systemd-units-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let binary = folder.appendingPathComponent("chanjing-worker")
        try Data("#!/bin/sh\n".utf8).write(to: binary)
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: binary.path)
        var units: [String] = []
        for name in ["chanjing-worker.service", "chanjing-token-refresher.service"] {
            let text = try String(contentsOf: Self.root.appendingPathComponent("deploy/systemd/\(name)"), encoding: .utf8)
            #expect(text.contains("ExecStart=/usr/local/bin/chanjing-worker "), "\(name)")
            let copy = folder.appendingPathComponent(name)
            try text.replacingOccurrences(of: "/usr/local/bin/chanjing-worker", with: binary.path).write(to: copy, atomically: true, encoding: .utf8)
            units.append(copy.path)
        }
        let (status, output) = try Self.run(["systemd-analyze", "verify", "--man=no"] + units)
        // verify exits 0 on keys and values it ignores; it names them, though.
        #expect(status == 0 && output.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty, "systemd-analyze (run .ci/setup to install it):\n\(output)")
    }

    /// Runs a tool from the repository's root; its exit status and combined output.
    static func run(_ arguments: [String]) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = arguments
        process.currentDirectoryURL = Self.root
        let pipe = Pipe()
        (process.standardOutput, process.standardError) = (pipe, pipe)
        try process.run()
        // Read before waiting: a full pipe would otherwise block the child forever.
        let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        return (process.terminationStatus, output)
    }
}
