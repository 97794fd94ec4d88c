import Chanjing
import Kafka
import Ledger
import VideoContract

/// Everything the worker needs to run, resolved and validated by the command line.
public struct WorkerConfiguration: Sendable {
    /// Whether requests sharing a Kafka key are submitted one after another.
    public enum Ordering: String, Sendable, CaseIterable {
        /// Any order: every request may be in flight at once.
        case none
        /// Requests with the same key one after another; different keys (and no key) in parallel.
        case key
    }

    /// librdkafka properties the delivery guarantee depends on; users may not override them.
    public static let protectedKafkaProperties: Set<String> = [
        "enable.auto.commit", "auto.commit.enable", "enable.auto.offset.store", "acks", "request.required.acks",
        "enable.idempotence", "group.id",
    ]

    public var brokers: String
    public var groupID: String
    public var requestsTopic: String
    public var resultsTopic: String
    /// The topic (one partition) through which workers with app credentials agree on the pool's
    /// one access token.
    public var coordinationTopic: String
    /// Extra librdkafka properties for every Kafka client (security, tuning).
    public var kafkaProperties: KafkaProperties
    /// Where a group without committed offsets starts.
    public var autoOffsetReset: String
    public var maxInFlight: Int
    public var ordering: Ordering
    /// Submit calls per second for this worker; nil for no limit.
    public var maxQPS: Double?
    /// Submit calls per second for the whole pool, shared by partitions owned; nil for no limit.
    public var poolMaxQPS: Double?
    /// Requests older than this are answered `expired` instead of submitted; nil for no limit.
    public var maxRequestAge: Duration?
    public var commitInterval: Duration
    /// How long shutdown and revocation wait for requests in flight.
    public var drainTimeout: Duration
    /// How long start-up waits for the cluster to answer.
    public var startupTimeout: Duration
    public var retry: RetryPolicy
    public var limits: RequestLimits
    public var chanjing: ChanjingClient.Configuration
    /// Port of the HTTP server for `/metrics`, `/healthz` and `/readyz` (0 picks a free one);
    /// nil runs no server.
    public var httpPort: Int?
    /// The submission ledger that keeps a request from being submitted twice; nil turns it off.
    public var ledger: LedgerSettings?
    /// Following submitted tasks to their video; nil turns it off. Needs the ledger, which
    /// holds the tasks being followed.
    public var tracking: TrackingSettings?
    /// How often librdkafka reports statistics (consumer lag, group state) unless
    /// `statistics.interval.ms` is set explicitly.
    public var statisticsInterval: Duration

    public init(
        brokers: String,
        groupID: String = "chanjing-worker",
        requestsTopic: String = "chanjing.video.requests",
        resultsTopic: String = "chanjing.video.results",
        coordinationTopic: String = "chanjing.video.coordination",
        kafkaProperties: KafkaProperties = KafkaProperties(),
        autoOffsetReset: String = "earliest",
        maxInFlight: Int = 64,
        ordering: Ordering = .none,
        maxQPS: Double? = nil,
        poolMaxQPS: Double? = nil,
        maxRequestAge: Duration? = nil,
        commitInterval: Duration = .seconds(1),
        drainTimeout: Duration = .seconds(30),
        startupTimeout: Duration = .seconds(15),
        retry: RetryPolicy = RetryPolicy(),
        limits: RequestLimits = .default,
        chanjing: ChanjingClient.Configuration,
        httpPort: Int? = nil,
        statisticsInterval: Duration = .seconds(5),
        ledger: LedgerSettings? = LedgerSettings(),
        tracking: TrackingSettings? = nil
    ) {
        self.ledger = ledger
        self.tracking = tracking
        self.httpPort = httpPort
        self.statisticsInterval = statisticsInterval
        self.brokers = brokers
        self.groupID = groupID
        self.requestsTopic = requestsTopic
        self.resultsTopic = resultsTopic
        self.coordinationTopic = coordinationTopic
        self.kafkaProperties = kafkaProperties
        self.autoOffsetReset = autoOffsetReset
        self.maxInFlight = maxInFlight
        self.ordering = ordering
        self.maxQPS = maxQPS
        self.poolMaxQPS = poolMaxQPS
        self.maxRequestAge = maxRequestAge
        self.commitInterval = commitInterval
        self.drainTimeout = drainTimeout
        self.startupTimeout = startupTimeout
        self.retry = retry
        self.limits = limits
        self.chanjing = chanjing
    }

    /// Properties every client gets: the user's, with the brokers.
    var commonProperties: KafkaProperties {
        var properties = kafkaProperties
        properties["bootstrap.servers"] = brokers
        return properties
    }

    /// The requests consumer's properties.
    var consumerProperties: KafkaProperties {
        var properties = KafkaProperties([
            // Bounded prefetch keeps memory flat whatever the backlog.
            "queued.max.messages.kbytes": "8192",
            "queued.min.messages": "10000",
            "auto.offset.reset": autoOffsetReset,
            "statistics.interval.ms": "\(Int(statisticsInterval / .milliseconds(1)))",
        ]).merging(commonProperties)
        properties["group.id"] = groupID
        // A missing topic is reported at start-up, never created: the consumer's default (false)
        // is kept whatever the user set. Set explicitly, it makes librdkafka warn (AUTOCREATE) on
        // every start against a broker without the newer Metadata request, such as the mock cluster.
        properties["allow.auto.create.topics"] = nil
        return properties
    }

    /// The producer's properties. Results and ledger entries share one producer, so that both
    /// ride the same round trips to the brokers (docs/benchmarks.md). It lingers 3 ms: a submit
    /// waits that much longer for its intent's acknowledgement, but from a few hundred requests a
    /// second the writes of several requests share each round trip and wake-up (scenarios 2 and
    /// 8: a fifth less CPU per request at the same rate). It gives up on an attempt after 60 s
    /// rather than librdkafka's 300 s: a ledger write is tried 5 times before the worker stops, a
    /// result until it is acknowledged.
    var producerProperties: KafkaProperties {
        var properties = KafkaProperties(["linger.ms": "3", "message.timeout.ms": "60000"]).merging(commonProperties)
        // The delivery guarantee rests on these two, whatever the user set.
        properties["acks"] = "all"
        properties["enable.idempotence"] = "true"
        return properties
    }
}

/// Settings of the submission ledger.
public struct LedgerSettings: Sendable {
    /// The ledger topic, with as many partitions as the requests topic (bounded by retention,
    /// not compaction: a record holds many requests' entries).
    public var topic: String
    public var policy: ReconcilePolicy
    /// How long after an intent a task it created may still appear; nil means the submit
    /// timeout (the longest a call can take).
    public var reconcileDelay: Duration?
    /// Tasks created this long before an intent still count when reconciling (clocks differ).
    public var clockSkew: Duration
    /// The most memory the ledger's copy of the owned partitions may take.
    public var memoryLimit: LedgerMemoryLimit

    public init(
        topic: String = "chanjing.video.ledger",
        policy: ReconcilePolicy = .adoptOrResubmit,
        reconcileDelay: Duration? = nil,
        clockSkew: Duration = .seconds(60),
        memoryLimit: LedgerMemoryLimit = .standard
    ) {
        self.topic = topic
        self.policy = policy
        self.reconcileDelay = reconcileDelay
        self.clockSkew = clockSkew
        self.memoryLimit = memoryLimit
    }
}

/// Settings of task tracking: every submitted task is read from Chanjing until it ends, and its
/// completion published.
public struct TrackingSettings: Sendable {
    /// The completions topic, keyed like the results.
    public var topic: String
    /// How long after its submit a task is first read.
    public var firstCheck: Duration
    /// How often a task is read after that (Chanjing's own poller reads every 10 s).
    public var interval: Duration
    /// How long a task is followed before its completion says `expired`.
    public var maxTrackTime: Duration

    public init(
        topic: String = "chanjing.video.completions",
        firstCheck: Duration = .seconds(30),
        interval: Duration = .seconds(10),
        maxTrackTime: Duration = .seconds(3600)
    ) {
        self.topic = topic
        self.firstCheck = firstCheck
        self.interval = interval
        self.maxTrackTime = maxTrackTime
    }
}
