#if canImport(Glibc)
import Glibc
#endif
import Hummingbird
import Kafka
import Logging
import NIOCore
import Prometheus
import ServiceLifecycle

/// The worker's HTTP endpoints for operators and Kubernetes: `GET /metrics` (Prometheus text),
/// `GET /healthz` (the poll loop is making progress) and `GET /readyz` (the consumer has joined
/// its group and reaches a broker). Nothing here calls Chanjing.
struct StatusServer: Sendable {
    /// What the endpoints report on.
    struct Probes: Sendable {
        let consumer: @Sendable () -> ConsumerHealth
        /// Longest acceptable silence of the poll loop. A revocation legitimately holds the loop
        /// for up to the drain timeout, so this must exceed it.
        let maxPollSilence: Duration
        /// Statistics older than this do not count for readiness; nil when statistics are off.
        let maxStatisticsAge: Duration?
        /// Refreshes the sampled gauges before a scrape.
        let sample: @Sendable () async -> Void
    }

    let port: Int
    let registry: PrometheusCollectorRegistry
    let probes: Probes
    let logger: Logger
    /// Receives the bound port once the server listens.
    let onListening: @Sendable (Int) async -> Void

    /// Why the worker is unhealthy (`/healthz`, systemd's watchdog), or nil: its poll loop has
    /// made no progress for longer than `maxPollSilence`.
    static func healthProblem(_ consumer: ConsumerHealth, maxPollSilence: Duration) -> String? {
        let silence = ContinuousClock.now - consumer.lastPoll
        guard silence > maxPollSilence else { return nil }
        return "the Kafka poll loop has made no progress for \(silence.formatted(.units(allowed: [.seconds])))"
    }

    func application() -> some ApplicationProtocol {
        let router = Router()
        router.get("/metrics") { [probes, registry] _, _ in
            await probes.sample()
            return Response(
                status: .ok,
                headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                body: .init(byteBuffer: ByteBuffer(bytes: registry.emitToBuffer()))
            )
        }
        router.get("/healthz") { [probes] _, _ in
            let problem = Self.healthProblem(probes.consumer(), maxPollSilence: probes.maxPollSilence)
            return problem.map { Self.text(.serviceUnavailable, "\($0)\n") } ?? Self.text(.ok, "ok\n")
        }
        router.get("/readyz") { [probes] _, _ in
            let problem = Self.readinessProblem(probes.consumer(), maxStatisticsAge: probes.maxStatisticsAge)
            return problem.map { Self.text(.serviceUnavailable, "\($0)\n") } ?? Self.text(.ok, "ready\n")
        }
        return Application(
            router: router,
            configuration: .init(address: .hostname("0.0.0.0", port: port), serverName: "chanjing-worker"),
            onServerRunning: { [logger, onListening, port] channel in
                let bound = channel.localAddress?.port ?? port
                logger.info("Serving /metrics, /healthz and /readyz", metadata: ["http_port": "\(bound)"])
                await onListening(bound)
            },
            logger: logger
        )
    }

    /// Throws when `port` cannot be bound now (another process listens on it), so that start-up
    /// stops before the worker joins its group: a worker dying after it joined costs the whole
    /// group a rebalance. The server binds the port for real once the worker runs.
    static func checkPortFree(_ port: Int) throws(WorkerFailure) {
        let socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard socket >= 0 else { return }  // cannot tell: the server reports it when it binds
        defer { close(socket) }
        // As the server binds: a port left in TIME_WAIT by the previous run is free.
        var reuse: Int32 = 1
        setsockopt(socket, SOL_SOCKET, SO_REUSEADDR, &reuse, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(truncatingIfNeeded: port)).bigEndian
        address.sin_addr = in_addr(s_addr: INADDR_ANY)
        let bound = withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(socket, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        if bound != 0 { throw .httpPortInUse(port: port, reason: String(cString: strerror(errno))) }
    }

    /// Why the worker is not ready, or nil when it is.
    static func readinessProblem(_ health: ConsumerHealth, maxStatisticsAge: Duration?) -> String? {
        guard let maxStatisticsAge else { return nil }  // statistics off: liveness is all we know
        guard let statistics = health.statistics else { return "no Kafka statistics yet: the consumer is starting" }
        if ContinuousClock.now - statistics.receivedAt > maxStatisticsAge { return "Kafka statistics are stale: the consumer is not polling" }
        if statistics.brokersUp == 0 { return "no Kafka broker is reachable" }
        if !statistics.isJoined {
            return "the consumer has not joined its group (coordinator \(statistics.groupState ?? "unknown"), join state \(statistics.joinState ?? "unknown"))"
        }
        return nil
    }

    private static func text(_ status: HTTPResponse.Status, _ body: String) -> Response {
        Response(status: status, headers: [.contentType: "text/plain; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(string: body)))
    }
}
