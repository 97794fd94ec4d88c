import Chanjing
import Foundation
import Kafka
import Ledger
import Logging
import PoolCoordination
import Primitives
import ServiceLifecycle
import UnixSignals
import VideoContract

/// A worker assembled from its configuration: start-up checks done, clients created. Used by
/// `chanjing-worker run`, the demo and the tests alike.
public final class WorkerRuntime: Sendable {
    public let configuration: WorkerConfiguration
    /// The token source the worker calls Chanjing with.
    public let tokens: any AccessTokenSource
    /// The worker's metrics, as served on `/metrics`.
    public let metrics: WorkerMetrics
    /// The status server's bound port, sent once it listens.
    private let statusPort: Promise<Int?>
    private let consumer: KafkaConsumer
    private let producer: KafkaProducer
    private let chanjing: ChanjingClient
    private let serviceGroup: ServiceGroup
    private let logger: Logger

    /// Checks the cluster and topics, then creates the clients. Nothing is fetched from Chanjing.
    ///
    /// - Parameter gracefulShutdownSignals: signals that start a graceful shutdown (none for an
    ///   embedded worker, stopped with ``shutdown()``).
    public init(
        configuration: WorkerConfiguration,
        credentials: ChanjingCredentials,
        gracefulShutdownSignals: [UnixSignal] = [],
        logger: Logger
    ) async throws(WorkerFailure) {
        if configuration.tracking != nil, configuration.ledger == nil { throw .trackingWithoutLedger }
        if let port = configuration.httpPort, port != 0 { try StatusServer.checkPortFree(port) }
        let appCredentials: (appID: String, secretKey: String)?
        if case .app(let appID, let secretKey) = credentials { appCredentials = (appID, secretKey) } else { appCredentials = nil }
        let requestPartitions = try await StartupCheck.verify(configuration, coordinates: appCredentials != nil, logger: logger)
        let chanjing: ChanjingClient
        do {
            chanjing = try ChanjingClient(configuration: configuration.chanjing)
        } catch {
            throw .chanjingClient(error.description)
        }
        let metrics = WorkerMetrics()
        metrics.seriesAtZero()
        metrics.running(group: configuration.groupID, requestsTopic: configuration.requestsTopic)
        let limiter = RateLimiter(maxQPS: configuration.maxQPS, poolMaxQPS: configuration.poolMaxQPS, totalPartitions: requestPartitions)
        let retention = RetentionGapDetector(
            offsets: .cluster(properties: configuration.commonProperties, groupID: configuration.groupID, logger: logger),
            newGroupStartsAtZero: ["earliest", "smallest", "beginning"].contains(configuration.autoOffsetReset),
            metrics: metrics, logger: logger
        )
        let coordinator = OffsetCoordinator(revokeTimeout: configuration.drainTimeout, limiter: limiter, retention: retention, logger: logger)
        let producer: KafkaProducer
        let consumer: KafkaConsumer
        do throws(KafkaError) {
            producer = try KafkaProducer(properties: configuration.producerProperties, logger: logger)
        } catch {
            try? await chanjing.shutdown()
            throw .kafkaClient(error)
        }
        do throws(KafkaError) {
            consumer = try KafkaConsumer(
                properties: configuration.consumerProperties,
                topics: [configuration.requestsTopic],
                bufferCapacity: max(10_000, 2 * configuration.maxInFlight),
                rebalanceListener: coordinator,
                logger: logger
            )
        } catch {
            await producer.shutdown(flushTimeout: .zero)
            try? await chanjing.shutdown()
            throw .kafkaClient(error)
        }
        // With app credentials the pool shares one token through the coordination topic: a worker
        // fetching its own would invalidate every other member's.
        let coordination = appCredentials.map { app in
            CoordinatedTokenSource(
                configuration: .init(
                    topic: configuration.coordinationTopic, appID: app.appID, secretKey: app.secretKey,
                    settings: .init(claimLapse: configuration.chanjing.requestTimeout + .seconds(10)),
                    startupTimeout: configuration.startupTimeout
                ),
                client: chanjing, producer: producer, readerProperties: configuration.commonProperties, logger: logger
            ) { metrics.tokenRefreshed(succeeded: $0) }
        }
        let tokens: any AccessTokenSource = coordination ?? credentials.makeSource(client: chanjing, logger: logger) { metrics.tokenRefreshed(succeeded: $0) }
        // Best effort: a topic not looked up now is looked up by its first record.
        let topics = [configuration.resultsTopic, configuration.ledger?.topic, coordination.map { _ in configuration.coordinationTopic }, configuration.tracking?.topic]
        for topic in topics.compactMap({ $0 }) {
            do {
                try await producer.warmUp(topic: topic, timeout: configuration.startupTimeout)
            } catch {
                logger.warning("Could not look up \(topic) ahead of its first record: \(error)")
            }
        }
        let circuit = CircuitBreaker(logger: logger)
        var ledger: SubmissionLedger?
        if let settings = configuration.ledger {
            ledger = SubmissionLedger(
                topic: settings.topic, producer: producer, readerProperties: configuration.commonProperties,
                loadTimeout: configuration.startupTimeout, memoryLimit: settings.memoryLimit, metrics: metrics.makeLedgerMetrics(), logger: logger
            )
        }
        coordinator.attach(consumer, ledger: ledger)

        let gateway = ChanjingGateway(
            client: chanjing, tokens: tokens, limiter: limiter, circuit: circuit,
            reconciler: Reconciler(client: chanjing, tokens: tokens, clockSkew: configuration.ledger?.clockSkew ?? .zero), metrics: metrics
        )
        let processor = RequestProcessor(
            decoder: RequestDecoder(limits: configuration.limits),
            settings: RequestLifecycle.Settings(
                retry: configuration.retry, reconcilePolicy: configuration.ledger?.policy ?? .adoptOrResubmit,
                reconcileDelay: configuration.ledger?.reconcileDelay ?? configuration.chanjing.requestTimeout, maxRequestAge: configuration.maxRequestAge
            ),
            chanjing: gateway,
            ledger: ledger,
            followsTasks: configuration.tracking != nil,
            publisher: ResultPublisher(producer: producer, topic: configuration.resultsTopic, metrics: metrics, logger: logger),
            offsets: coordinator,
            orderByKey: configuration.ordering == .key,
            slots: InFlightSlots(capacity: configuration.maxInFlight),
            metrics: metrics,
            logger: logger
        )
        let service = WorkerService(
            consumer: consumer, coordinator: coordinator, processor: processor, configuration: configuration, metrics: metrics, logger: logger
        )
        // The token source stops last: requests draining on shutdown still call Chanjing.
        var services: [any Service] = [service]
        if let coordination {
            services = [coordination, PoolHeartbeat(source: coordination, limiter: limiter, interval: Self.heartbeatInterval), service]
        }
        if let ledger = ledger {
            // Retention deletes whole segments (at most a day old, as provisioned): checking every
            // 10 minutes keeps the copy close to the topic at no noticeable cost.
            services.append(LedgerPruner(ledger: ledger, interval: .seconds(600)))
            if let tracking = configuration.tracking {
                services.append(
                    TaskTracker(
                        settings: tracking, ledger: ledger, chanjing: gateway, producer: producer, requestsTopic: configuration.requestsTopic,
                        metrics: metrics, logger: logger
                    )
                )
            }
        }
        let maxPollSilence = configuration.drainTimeout + .seconds(30)
        if let settings = SystemdNotifier.Settings(environment: ProcessInfo.processInfo.environment) {
            services.append(
                SystemdNotifier(settings: settings, healthProblem: { StatusServer.healthProblem(consumer.health, maxPollSilence: maxPollSilence) }, logger: logger)
            )
        }
        let statusPort = Promise<Int?>()
        if let port = configuration.httpPort {
            let statisticsInterval = configuration.consumerProperties["statistics.interval.ms"].flatMap(Int.init) ?? 0
            let probes = StatusServer.Probes(
                consumer: { consumer.health },
                maxPollSilence: maxPollSilence,
                maxStatisticsAge: statisticsInterval > 0 ? max(.milliseconds(3 * statisticsInterval), .seconds(10)) : nil,
                sample: { [ledger = ledger] in
                    metrics.sample(
                        consumer: consumer.health, circuitOpen: circuit.isOpen, tokenAvailable: await tokens.hasUsableToken,
                        pool: coordination.map(Self.poolSample)
                    )
                    ledger?.sampleMetrics()
                }
            )
            let server = StatusServer(port: port, registry: metrics.registry, probes: probes, logger: logger) { statusPort.fulfill($0) }
            services.append(server.application())
        }
        var groupConfiguration = ServiceGroupConfiguration(services: services, logger: logger)
        groupConfiguration.gracefulShutdownSignals = gracefulShutdownSignals
        self.serviceGroup = ServiceGroup(configuration: groupConfiguration)
        self.configuration = configuration
        self.tokens = tokens
        self.metrics = metrics
        self.statusPort = statusPort
        self.consumer = consumer
        self.producer = producer
        self.chanjing = chanjing
        self.logger = logger
    }

    /// How often a member reports to the pool; members silent for three intervals have left.
    static let heartbeatInterval = Duration.seconds(15)

    private static func poolSample(_ source: CoordinatedTokenSource) -> WorkerMetrics.PoolSample {
        let live = source.pool.live(now: Date(), window: 3 * (heartbeatInterval / .seconds(1)))
        let current = source.current
        return WorkerMetrics.PoolSample(
            members: live.count,
            acceptedPerSecond: live.reduce(0) { $0 + $1.report.acceptedPerSecond },
            tokenExpiresAt: current?.expiresAt,
            tokenFetchedHere: current?.claim.member == source.member,
            contended: source.contended
        )
    }

    /// Runs until a graceful shutdown completes (returns) or the worker fails (throws). Either
    /// way the producer is flushed and every client closed before it returns.
    public func run() async throws {
        do {
            try await serviceGroup.run()
        } catch {
            await closeClients()
            throw error
        }
        await closeClients()
    }

    /// The port `/metrics`, `/healthz` and `/readyz` are served on, once the server listens;
    /// nil when no server was configured or it stopped before listening.
    public func httpPort() async -> Int? {
        guard configuration.httpPort != nil else { return nil }
        return await statusPort.valueUnlessCancelled() ?? nil
    }

    /// Starts a graceful shutdown: no new requests, in-flight ones finish, offsets committed.
    public func shutdown() async {
        await serviceGroup.triggerGracefulShutdown()
    }

    private func closeClients() async {
        statusPort.fulfill(nil)  // a server that never listened must not leave httpPort() waiting
        await consumer.close()
        await producer.shutdown()
        do {
            try await chanjing.shutdown()
        } catch {
            logger.debug("Chanjing client shutdown: \(error)")
        }
    }
}
