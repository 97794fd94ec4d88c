import Chanjing
import Foundation
import Kafka
import Logging
import ServiceLifecycle
import Synchronization

/// The pool's one access token, agreed through the coordination topic: at most one member
/// fetches at a time, the others take the token it publishes, sealed (``TokenSeal``). The rules
/// are ``TokenCoordinationState``'s; this type reads the topic, appends records and calls
/// Chanjing's token endpoint.
///
/// Run it as a service (it reads the topic until shutdown) and give it the producer the worker
/// already has. Put it before the services that call Chanjing, so that it stops after them.
public final class CoordinatedTokenSource: AccessTokenSource, Service {
    public struct Configuration: Sendable {
        /// The coordination topic (one partition).
        public var topic: String
        public var appID: String
        public var secretKey: String
        public var settings: TokenCoordinationState.Settings
        /// How long a caller waits for the pool to agree on a token before it gets
        /// ``ChanjingError/tokenUnavailable(_:)``.
        public var maxWait: Duration
        /// How long start-up may take to find where the topic ends.
        public var startupTimeout: Duration
        /// This member's name on the topic, unique in the pool (the host name, a pod's name, with
        /// the process ID and a random part).
        public var member: String

        public init(
            topic: String,
            appID: String,
            secretKey: String,
            settings: TokenCoordinationState.Settings = .init(),
            maxWait: Duration? = nil,
            startupTimeout: Duration = .seconds(15),
            member: String = CoordinatedTokenSource.defaultMember()
        ) {
            self.topic = topic
            self.appID = appID
            self.secretKey = secretKey
            self.settings = settings
            self.maxWait = maxWait ?? settings.claimLapse + .seconds(15)
            self.startupTimeout = startupTimeout
            self.member = member
        }
    }

    private let configuration: Configuration
    private let seal: TokenSeal
    private let client: ChanjingClient
    private let producer: KafkaProducer
    private let readerProperties: KafkaProperties
    private let state: Mutex<TokenCoordinationState>
    private let roster = Mutex(PoolRoster())
    private let actions: AsyncStream<TokenCoordinationState.Action>
    private let actionInput: AsyncStream<TokenCoordinationState.Action>.Continuation
    private let onRefresh: TokenRefreshObserver
    private let logger: Logger

    /// - Parameters:
    ///   - readerProperties: properties for reading the topic (brokers, security).
    ///   - onRefresh: told about every token fetch this member makes (for metrics).
    public init(
        configuration: Configuration,
        client: ChanjingClient,
        producer: KafkaProducer,
        readerProperties: KafkaProperties,
        logger: Logger,
        onRefresh: @escaping TokenRefreshObserver = { _ in }
    ) {
        self.configuration = configuration
        self.seal = TokenSeal(appID: configuration.appID, secretKey: configuration.secretKey)
        self.client = client
        self.producer = producer
        self.readerProperties = readerProperties
        self.state = Mutex(TokenCoordinationState(member: configuration.member, settings: configuration.settings))
        (actions, actionInput) = AsyncStream.makeStream(of: TokenCoordinationState.Action.self)
        self.onRefresh = onRefresh
        var logger = logger
        logger[metadataKey: "coordination_topic"] = "\(configuration.topic)"
        self.logger = logger
    }

    /// `<host>/<pid>/<random>`: a pod's host name is its name, so members are recognisable on
    /// the topic; the random part keeps two members apart even in one process.
    public static func defaultMember() -> String {
        "\(ProcessInfo.processInfo.hostName)/\(ProcessInfo.processInfo.processIdentifier)/\(String(UInt16.random(in: .min ... .max), radix: 16))"
    }

    // MARK: AccessTokenSource

    public func currentToken() async throws(ChanjingError) -> String {
        let deadline = ContinuousClock.now + configuration.maxWait
        while true {
            let (answer, next) = state.withLock { $0.need(now: .now, wall: Date()) }
            enqueue(next)
            switch answer {
            case .use(let token):
                return token
            case .fail(let error):
                throw error
            case .wait:
                guard ContinuousClock.now < deadline else {
                    throw .tokenUnavailable("the pool agreed on no access token on \(configuration.topic) within \(configuration.maxWait)")
                }
                do {
                    try await Task.sleep(for: .milliseconds(50))
                } catch {
                    throw .tokenUnavailable("cancelled while waiting for the pool's access token")
                }
            }
        }
    }

    public func tokenRejected(_ token: String) async {
        enqueue(state.withLock { $0.refused(token, now: .now, wall: Date()) })
    }

    public func tokenAccepted(_ token: String) async {
        enqueue(state.withLock { $0.accepted(token, wall: Date()) })
    }

    public var hasUsableToken: Bool {
        state.withLock { $0.hasUsableToken(wall: Date()) }
    }

    public var contended: Bool {
        state.withLock { $0.contended }
    }

    /// The pool's current token as this member knows it: who fetched it and when it expires.
    public var current: TokenCoordinationState.CurrentToken? {
        state.withLock { $0.current }
    }

    /// This member's name on the topic.
    public var member: String { configuration.member }

    /// The pool's members as their reports on the topic show them.
    public var pool: PoolRoster { roster.withLock { $0 } }

    /// Tells the pool how this member is doing (see ``MemberReport``).
    public func announce(_ report: MemberReport) async {
        _ = await append(.member(report))
    }

    // MARK: Service

    /// Reads the topic and carries out the state's actions until shutdown.
    public func run() async throws {
        let partition = TopicPartition(topic: configuration.topic, partition: 0)
        let range = try await CoordinationTopic.range(
            topic: configuration.topic, properties: readerProperties, timeout: configuration.startupTimeout, logger: logger
        )
        let high = range.upperBound
        // librdkafka's default fetch wait (500 ms): a broker answers a waiting fetch as soon as a
        // record arrives, so a token reaches every member at once, and an idle member fetches
        // twice a second, not ten times. The mock cluster holds the fetch for the whole wait,
        // which delays tokens in the tests and the demo by up to half a second.
        let consumer = try KafkaConsumer(properties: readerProperties, partitions: [partition: range.lowerBound], logger: logger)
        if range.isEmpty { state.withLock { $0.markCaughtUp() } }
        logger.debug("Reading the coordination topic", metadata: ["from_offset": "\(range.lowerBound)", "to_offset": "\(high)"])
        do {
            try await withThrowingDiscardingTaskGroup { group in
                group.addTask {
                    defer { self.actionInput.finish() }
                    try await cancelWhenGracefulShutdown {
                        for try await message in consumer.messages {
                            self.apply(message, catchingUpTo: high)
                        }
                    }
                }
                group.addTask {
                    // The records up to where the topic stood should arrive within the start-up
                    // timeout; if some never do (deleted meanwhile), go on with what was read.
                    try? await Task.sleep(for: self.configuration.startupTimeout)
                    let late = self.state.withLock { state in
                        defer { state.markCaughtUp() }
                        return !state.caughtUp
                    }
                    if late { self.logger.warning("The coordination topic was not read to offset \(high) within \(self.configuration.startupTimeout); going on with what was read") }
                }
                for await action in actions {
                    group.addTask { await self.perform(action) }
                }
                group.cancelAll()  // shutdown: the start-up watch and any fetch or append still going
            }
        } catch {
            await consumer.close()
            throw error
        }
        await consumer.close()
    }

    private func apply(_ message: KafkaMessage, catchingUpTo high: Int64) {
        guard let record = CoordinationRecord.decode(message.value) else {
            logger.debug("Skipped a record this version does not understand", metadata: ["offset": "\(message.offset)"])
            return
        }
        roster.withLock { $0.read(record, at: message.timestamp ?? Date()) }
        var opened: String?
        if case .token(_, _, let sealed) = record { opened = seal.open(sealed) }
        let (next, current) = state.withLock { state in
            let next = state.read(record, offset: message.offset, opened: opened, now: .now)
            if !state.caughtUp, message.offset >= high - 1 { state.markCaughtUp() }
            return (next, state.current)
        }
        if case .token(let id, _, _) = record, opened != nil, let current, current.claim == id {
            logger.info("The pool's access token changed", metadata: ["fetched_by": "\(id.member)", "expires_at": "\(current.expiresAt)"])
        }
        enqueue(next)
    }

    private func enqueue(_ next: [TokenCoordinationState.Action]) {
        for action in next { actionInput.yield(action) }
    }

    private func perform(_ action: TokenCoordinationState.Action) async {
        switch action {
        case .appendClaim(let id, let replaces, let overrides):
            if await append(.claim(id, replaces: replaces, overrides: overrides)) == nil {
                state.withLock { $0.claimNotAppended(id) }
            }
        case .fetch(let id):
            let result: Result<AccessToken, ChanjingError>
            do throws(ChanjingError) {
                result = .success(try await client.fetchAccessToken(appID: configuration.appID, secretKey: configuration.secretKey))
                onRefresh(true)
            } catch {
                logger.warning("Cannot fetch a Chanjing access token for the pool: \(error)")
                result = .failure(error)
                onRefresh(false)
            }
            enqueue(state.withLock { $0.fetched(id, result, now: .now, wall: Date()) })
        case .appendToken(let id, let claimOffset, let token, let fetchedAt, let publishBy):
            await publish(id, claimOffset: claimOffset, token: token, fetchedAt: fetchedAt, publishBy: publishBy)
        case .appendRelease(let id, let reason, let credentialsRefused):
            _ = await append(.release(id, reason: reason, credentialsRefused: credentialsRefused))
        case .reportContention(let refused):
            logger.error("\(TokenCoordinationState.contentionMessage(refused)); submissions wait for the circuit's probes")
        case .reportContentionOver:
            logger.notice("Chanjing accepts the pool's access token again")
        case .reportUnreadableToken(let id):
            logger.error(
                "A token record (claim \(id)) cannot be opened with this worker's CHANJING_APP_ID and CHANJING_SECRET_KEY: workers with other credentials share \(configuration.topic); give each app its own coordination topic"
            )
        }
    }

    private func publish(_ id: ClaimID, claimOffset: Int64, token: AccessToken, fetchedAt: Date, publishBy: ContinuousClock.Instant) async {
        let sealed: SealedToken
        do {
            sealed = try seal.seal(token, fetchedAt: fetchedAt)
        } catch {
            logger.error("Cannot seal the access token: \(error)")
            state.withLock { $0.tokenNotPublished(id) }
            return
        }
        while ContinuousClock.now < publishBy {
            if await append(.token(id, claimOffset: claimOffset, sealed)) != nil {
                logger.info("Fetched the pool's Chanjing access token", metadata: ["expires_at": "\(token.expiresAt)"])
                return
            }
            try? await Task.sleep(for: .milliseconds(500))
        }
        logger.error("Could not publish the fetched access token in time; another member will fetch one")
        state.withLock { $0.tokenNotPublished(id) }
    }

    /// Appends `record`; its offset, or nil when Kafka did not take it (logged).
    private func append(_ record: CoordinationRecord) async -> Int64? {
        do {
            let report = try await producer.send(OutgoingMessage(topic: configuration.topic, partition: 0, key: nil, value: record.encoded()))
            return report.offset
        } catch {
            logger.warning("Cannot write to the coordination topic: \(error)", metadata: ["claim": "\(record.claim?.description ?? "none")"])
            return nil
        }
    }
}
