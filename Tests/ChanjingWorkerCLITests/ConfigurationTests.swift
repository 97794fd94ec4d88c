import ArgumentParser
@testable import ChanjingWorkerCLI
import Chanjing
import Foundation
import Testing

@Suite("Configuration from flags and environment")
struct ConfigurationTests {
    static let credentials = ["CHANJING_APP_ID": "app", "CHANJING_SECRET_KEY": "s3cr3t"]

    func resolve(_ arguments: [String] = [], _ environment: [String: String] = credentials) throws -> ResolvedConfiguration {
        try ConfigurationResolver(options: try RunOptions.parse(arguments), environment: environment).resolve()
    }

    /// The configuration error for these inputs, or nil when they resolve.
    func error(_ arguments: [String] = [], _ environment: [String: String] = credentials) -> String? {
        do {
            _ = try resolve(arguments, environment)
            return nil
        } catch let error as ConfigurationError {
            return error.description
        } catch {
            Issue.record("\(arguments) did not parse: \(error)")
            return nil
        }
    }

    @Test("defaults match the documented ones")
    func defaults() throws {
        let resolved = try resolve()
        #expect(resolved.worker.brokers == "localhost:9092")
        #expect(resolved.worker.groupID == "chanjing-worker")
        #expect(resolved.worker.requestsTopic == "chanjing.video.requests")
        #expect(resolved.worker.resultsTopic == "chanjing.video.results")
        #expect(resolved.worker.chanjing.baseURL == "https://open-api.chanjing.cc")
        #expect(resolved.worker.autoOffsetReset == "earliest")
        #expect(resolved.worker.maxInFlight == 64)
        #expect(resolved.worker.chanjing.maxConnections == 64)
        #expect(resolved.worker.drainTimeout == .seconds(30))
        #expect(resolved.worker.chanjing.requestTimeout == .seconds(20))
        #expect(resolved.worker.limits.maxPromptScalars == 2500)
        #expect(resolved.logLevel == .info)
        #expect(resolved.logFormat == .text)
        #expect(resolved.worker.httpPort == 9464)
        #expect(try resolve(["--http-port", "0", "--log-format", "json"]).worker.httpPort == 0)
        #expect(try resolve(["--log-format", "json"]).logFormat == .json)
    }

    @Test("tasks are followed by default, with the documented timings; not with --track off, nor by default with --ledger off")
    func tracking() throws {
        let tracking = try #require(try resolve().worker.tracking)
        #expect(tracking.topic == "chanjing.video.completions")
        #expect(tracking.firstCheck == .seconds(30) && tracking.interval == .seconds(10) && tracking.maxTrackTime == .seconds(3600))
        #expect(try resolve(["--track", "off"]).worker.tracking == nil)
        #expect(try resolve([], Self.credentials.merging(["TRACK": "off"]) { $1 }).worker.tracking == nil)
        #expect(try resolve(["--ledger", "off"]).worker.tracking == nil)
        let custom = try resolve(["--completions-topic", "done", "--track-first-check", "2", "--track-interval", "1.5", "--max-track-time", "60"]).worker.tracking
        #expect(custom?.topic == "done" && custom?.firstCheck == .seconds(2) && custom?.interval == .milliseconds(1500) && custom?.maxTrackTime == .seconds(60))
    }

    @Test("a flag wins over its environment variable, which wins over the default")
    func precedence() throws {
        #expect(try resolve([], Self.credentials.merging(["KAFKA_BROKERS": "env:9092"]) { $1 }).worker.brokers == "env:9092")
        #expect(try resolve(["--brokers", "flag:9092"], Self.credentials.merging(["KAFKA_BROKERS": "env:9092"]) { $1 }).worker.brokers == "flag:9092")
        #expect(try resolve(["--max-in-flight", "7"]).worker.maxInFlight == 7)
        #expect(try resolve([], Self.credentials.merging(["MAX_IN_FLIGHT": "9"]) { $1 }).worker.maxInFlight == 9)
    }

    @Test("librdkafka properties come from KAFKA_PROP_* and --kafka; guarantee-bearing ones are refused")
    func kafkaProperties() throws {
        let environment = Self.credentials.merging(["KAFKA_PROP_SECURITY_PROTOCOL": "SASL_SSL", "KAFKA_PROP_SASL_PASSWORD": "pw"]) { $1 }
        let resolved = try resolve(["--kafka", "sasl.mechanisms=SCRAM-SHA-512", "--kafka", "security.protocol=SASL_PLAINTEXT"], environment)
        #expect(resolved.worker.kafkaProperties["security.protocol"] == "SASL_PLAINTEXT")
        #expect(resolved.worker.kafkaProperties["sasl.password"] == "pw")
        #expect(resolved.worker.kafkaProperties["sasl.mechanisms"] == "SCRAM-SHA-512")
        for key in ["enable.auto.commit", "enable.auto.offset.store", "acks", "enable.idempotence", "group.id"] {
            #expect(error(["--kafka", "\(key)=x"])?.contains(key) == true)
        }
        #expect(error([], Self.credentials.merging(["KAFKA_PROP_ACKS": "1"]) { $1 })?.contains("acks") == true)
        #expect(error(["--kafka", "novalue"]) != nil)
    }

    @Test("credentials: exactly one kind, and never echoed")
    func credentials() throws {
        guard case .app(let appID, _) = try resolve().credentials else { Issue.record("expected app credentials"); return }
        #expect(appID == "app")
        guard case .accessToken = try resolve([], ["CHANJING_ACCESS_TOKEN": "tok"]).credentials else { Issue.record("expected a token"); return }
        guard case .tokenFile = try resolve([], ["CHANJING_ACCESS_TOKEN_FILE": "/run/token"]).credentials else { Issue.record("expected a file"); return }
        #expect(error([], [:])?.contains("no Chanjing credentials") == true)
        #expect(error([], ["CHANJING_APP_ID": "a"])?.contains("CHANJING_SECRET_KEY") == true)
        #expect(error([], ["CHANJING_ACCESS_TOKEN": "t", "CHANJING_APP_ID": "a", "CHANJING_SECRET_KEY": "k"])?.contains("only one") == true)
        #expect(!"\(try resolve().credentials)".contains("s3cr3t"))
    }

    @Test("the ledger's memory limit: 256 MiB by default, in bytes or Ki, Mi, Gi (KiB, MiB, GiB too), at least 16 MiB")
    func ledgerMemory() throws {
        #expect(try resolve().worker.ledger?.memoryLimit.bytes == 256 << 20)
        #expect(try resolve(["--ledger-memory", "832Mi"]).worker.ledger?.memoryLimit.bytes == 832 << 20)
        #expect(try resolve(["--ledger-memory", "2GiB"]).worker.ledger?.memoryLimit.bytes == 2 << 30)
        #expect(try resolve(["--ledger-memory", "20000Ki"]).worker.ledger?.memoryLimit.bytes == 20000 << 10)
        #expect(try resolve(["--ledger-memory", "\(16 << 20)"]).worker.ledger?.memoryLimit.bytes == 16 << 20)
        #expect(try resolve([], Self.credentials.merging(["LEDGER_MEMORY": "1Gi"]) { $1 }).worker.ledger?.memoryLimit.bytes == 1 << 30)
    }

    @Test("bad values stop start-up with one line naming the setting")
    func badValues() {
        let cases: [([String], String)] = [
            (["--max-in-flight", "0"], "--max-in-flight"),
            (["--max-in-flight", "many"], "--max-in-flight"),
            (["--submit-timeout=-1"], "--submit-timeout"),
            (["--drain-timeout", "5"], "--drain-timeout"),
            (["--auto-offset-reset", "middle"], "--auto-offset-reset"),
            (["--chanjing-base-url", "ftp://x"], "--chanjing-base-url"),
            (["--log-level", "loud"], "--log-level"),
            (["--log-format", "xml"], "--log-format"),
            (["--http-port", "70000"], "--http-port"),
            (["--http-port=-1"], "--http-port"),
            (["--brokers", " "], "--brokers"),
            (["--results-topic", "chanjing.video.requests"], "--results-topic"),
            (["--track", "maybe"], "--track"),
            (["--track", "on", "--ledger", "off"], "--track"),
            (["--track-interval", "0"], "--track-interval"),
            (["--max-track-time", "10"], "--max-track-time"),
            (["--completions-topic", "chanjing.video.results"], "--completions-topic"),
            (["--ledger-memory", "15Mi"], "--ledger-memory"),
            (["--ledger-memory", "256MB"], "--ledger-memory"),
            (["--ledger-memory=-1Gi"], "--ledger-memory"),
            (["--ledger-memory", "99999999999Gi"], "--ledger-memory"),
        ]
        for (arguments, flag) in cases {
            let message = error(arguments)
            #expect(message?.contains(flag) == true, "\(arguments): \(String(describing: message))")
            #expect(message?.contains("\n") == false)
        }
    }
}

@Suite("Options table")
struct OptionTableTests {
    @Test("the README's options table is the catalogue's")
    func readme() throws {
        let readme = try String(contentsOf: URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../README.md"), encoding: .utf8)
        let begin = try #require(readme.range(of: "<!-- options:begin -->\n"))
        let end = try #require(readme.range(of: "\n<!-- options:end -->"))
        let table = String(readme[begin.upperBound..<end.lowerBound])
        #expect(table == OptionCatalog.markdownTable, "Regenerate the README table: it must equal OptionCatalog.markdownTable")
    }

    @Test("every flag of `run` is in the catalogue, and every catalogued flag exists")
    func flags() throws {
        let help = RunCommand.helpMessage(columns: 400)
        let helpFlags = Set(help.matches(of: /--[a-z][a-z-]+/).map { String($0.output) }).subtracting(["--help"])
        let catalogued = Set(OptionCatalog.entries.compactMap(\.flag))
        #expect(helpFlags == catalogued)
        for entry in OptionCatalog.entries {
            #expect(entry.flag == nil || help.contains(entry.environment), "\(entry.environment) missing from help")
        }
    }
}
