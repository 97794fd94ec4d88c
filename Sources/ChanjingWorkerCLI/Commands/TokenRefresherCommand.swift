import ArgumentParser
import Chanjing
import Foundation
import Logging
import ServiceLifecycle
import UnixSignals

/// `chanjing-worker token-refresher`: the one process that fetches Chanjing tokens for a worker
/// pool, writing them to a file the workers read (`CHANJING_ACCESS_TOKEN_FILE`). Run exactly one.
struct TokenRefresherCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "token-refresher",
        abstract: "Keep a Chanjing access token file fresh for a worker pool (run exactly one).",
        discussion: "Reads CHANJING_APP_ID and CHANJING_SECRET_KEY from the environment. Workers use the file through CHANJING_ACCESS_TOKEN_FILE."
    )

    @Option(help: "The token file to write (replaced atomically, mode 600).") var file: String
    @Option(help: "Chanjing API base URL (env CHANJING_BASE_URL).") var chanjingBaseURL: String?
    @Option(help: "Seconds before expiry to fetch the next token (at most a tenth of its lifetime).") var refreshMargin: Double = 600
    @Option(help: "Log level.") var logLevel: Logger.Level = .info
    @Option(help: "Log format: text or json (env LOG_FORMAT).") var logFormat: String?
    @Option(help: "Port of GET /metrics and /healthz (0: any free one, logged; a worker on the same host takes 9464).") var httpPort = 9465

    func validate() throws {
        guard (0...65_535).contains(httpPort) else { throw ValidationError("--http-port must be from 0 to 65535") }
    }

    func run() async throws {
        let environment = ProcessInfo.processInfo.environment
        let formatText = logFormat ?? environment["LOG_FORMAT"] ?? LogFormat.text.rawValue
        guard let format = LogFormat(rawValue: formatText.lowercased()) else {
            printError("chanjing-worker: configuration error: invalid --log-format '\(formatText)' (env LOG_FORMAT): use text or json")
            throw ExitCodes.configuration
        }
        LogSetup.bootstrap(level: logLevel, format: format)
        let logger = Logger(label: "token-refresher")
        guard let appID = environment["CHANJING_APP_ID"], !appID.isEmpty, let secret = environment["CHANJING_SECRET_KEY"], !secret.isEmpty else {
            printError("chanjing-worker: configuration error: set CHANJING_APP_ID and CHANJING_SECRET_KEY")
            throw ExitCodes.configuration
        }
        let baseURL = chanjingBaseURL ?? environment["CHANJING_BASE_URL"] ?? "https://open-api.chanjing.cc"
        let client = try ChanjingClient(configuration: .init(baseURL: baseURL, maxConnections: 1, proxyURL: environment["HTTPS_PROXY"] ?? environment["https_proxy"]))
        let metrics = RefresherMetrics()
        let refresher = TokenFileRefresher(
            client: client, appID: appID, secretKey: secret, path: file, refreshMargin: refreshMargin, logger: logger, onRefresh: metrics.refreshed
        )
        let services: [any Service] = [RefresherService(refresher: refresher), metrics.server(port: httpPort, logger: logger)]
        let group = ServiceGroup(configuration: .init(services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
        try await client.shutdown()
    }
}

/// Runs the refresher until a graceful shutdown.
struct RefresherService: Service {
    let refresher: TokenFileRefresher

    func run() async throws {
        await cancelWhenGracefulShutdown { await refresher.run() }
    }
}
