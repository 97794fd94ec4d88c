import ArgumentParser
import AsyncHTTPClient
import Foundation

/// `chanjing-worker probe`: asks a worker on this host whether it is healthy (`GET /healthz`),
/// for the image's `HEALTHCHECK` and anything else that can run a command but not an HTTP probe.
struct ProbeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "probe",
        abstract: "Exit 0 when the worker on this host answers /healthz (or --path) with 200, else 1.",
        discussion: "The port is --port, else HTTP_PORT, else the worker's default; the answer is one line on standard output."
    )

    @Option(help: "The worker's status port (env HTTP_PORT, default 9464).") var port: Int?
    @Option(help: "The path to ask: /healthz (liveness) or /readyz (readiness).") var path = "/healthz"
    @Option(help: "Seconds to wait for the answer.") var timeout: Double = 3

    func run() async throws {
        let port = self.port ?? Int(setting("--http-port", given: nil)) ?? 9464
        let url = "http://127.0.0.1:\(port)\(path)"
        do {
            let response = try await HTTPClient.shared.execute(HTTPClientRequest(url: url), timeout: .milliseconds(Int64(max(0.1, timeout) * 1000)))
            let body = String(buffer: try await response.body.collect(upTo: 64 * 1024)).trimmingCharacters(in: .whitespacesAndNewlines)
            printLine("\(url): \(response.status.code) \(body.prefix(200))")
            guard response.status == .ok else { throw ExitCodes.failure }
        } catch let exit as ExitCode {
            throw exit
        } catch {
            printLine("\(url): no answer (\(error))")
            throw ExitCodes.failure
        }
    }
}
