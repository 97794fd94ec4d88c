import Foundation
import Hummingbird
import Logging
import Metrics
import NIOCore
import Prometheus

/// The token refresher's metrics, served on `GET /metrics` with `GET /healthz`: how its fetches
/// went, so that an alert sees a refresher that keeps failing before the workers' token expires.
struct RefresherMetrics: Sendable {
    static let refreshes = "chanjing_token_refresher_refreshes_total"
    static let lastSuccess = "chanjing_token_refresher_last_success_timestamp_seconds"

    let registry = PrometheusCollectorRegistry()
    private let succeeded: Metrics.Counter
    private let failed: Metrics.Counter
    private let lastSuccessGauge: Metrics.Gauge

    /// Both outcomes' series exist at 0 from the start: an alert's `increase()` sees the first failure.
    init() {
        let factory = PrometheusMetricsFactory(registry: registry)
        succeeded = Metrics.Counter(label: Self.refreshes, dimensions: [("outcome", "success")], factory: factory)
        failed = Metrics.Counter(label: Self.refreshes, dimensions: [("outcome", "failure")], factory: factory)
        lastSuccessGauge = Metrics.Gauge(label: Self.lastSuccess, factory: factory)
    }

    /// A token was written (`true`), or a fetch or write failed.
    @Sendable func refreshed(_ succeeded: Bool) {
        if succeeded {
            self.succeeded.increment()
            lastSuccessGauge.record(Date().timeIntervalSince1970)
        } else {
            failed.increment()
        }
    }

    /// The HTTP server on `port` (0: any free one, logged and given to `onListening`).
    func server(port: Int, logger: Logger, onListening: @escaping @Sendable (Int) async -> Void = { _ in }) -> some ApplicationProtocol {
        let router = Router()
        router.get("/metrics") { [registry] _, _ in
            Response(
                status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                body: .init(byteBuffer: ByteBuffer(bytes: registry.emitToBuffer()))
            )
        }
        router.get("/healthz") { _, _ in "ok\n" }
        return Application(
            router: router,
            configuration: .init(address: .hostname("0.0.0.0", port: port), serverName: "chanjing-token-refresher"),
            onServerRunning: { channel in
                let bound = channel.localAddress?.port ?? port
                logger.info("Serving /metrics and /healthz", metadata: ["http_port": "\(bound)"])
                await onListening(bound)
            },
            logger: logger
        )
    }
}
