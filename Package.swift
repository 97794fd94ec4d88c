// swift-tools-version: 6.1
import PackageDescription

let package = Package(
    name: "chanjing-worker",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "chanjing-worker", targets: ["chanjing-worker"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-collections", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/apple/swift-crypto", from: "4.5.2"),
    ],
    targets: [
        // The C binding: Debian's librdkafka 2.0.2 (with the mock cluster header).
        .systemLibrary(
            name: "Crdkafka",
            pkgConfig: "rdkafka",
            providers: [.apt(["librdkafka-dev"])]
        ),
        // The one concurrency primitive shared by the modules: a value set once, awaited by many.
        .target(name: "Primitives"),
        // Swift-shaped Kafka producer, consumer and mock cluster over Crdkafka.
        .target(
            name: "Kafka",
            dependencies: [
                "Crdkafka",
                "Primitives",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // The request and result message contracts: decoding, validation, encoding. No I/O.
        .target(name: "VideoContract"),
        // Chanjing's open API over AsyncHTTPClient: tokens, submit, task queries, typed errors.
        .target(
            name: "Chanjing",
            dependencies: [
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOFoundationCompat", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
        // The pool as one Chanjing client: one access token for every member, agreed through an
        // ordered Kafka topic and sealed with a key only holders of the secret key can derive.
        .target(
            name: "PoolCoordination",
            dependencies: [
                "Kafka",
                "Chanjing",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        // The submission ledger: what each request's submits came to, kept in a Kafka topic
        // co-partitioned with the requests, held in memory for the partitions owned.
        .target(
            name: "Ledger",
            dependencies: [
                "Kafka",
                "Primitives",
                "VideoContract",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        // A Chanjing look-alike HTTP server for the demo, staging and tests.
        .target(
            name: "ChanjingSimulator",
            dependencies: [
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        // The pipeline: consume, validate, submit, publish the result, commit.
        .target(
            name: "Worker",
            dependencies: [
                "Kafka",
                "Chanjing",
                "Ledger",
                "Primitives",
                "PoolCoordination",
                "VideoContract",
                .product(name: "DequeModule", package: "swift-collections"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ]
        ),
        // The command-line tool's commands and configuration (a library so tests can reach it).
        .target(
            name: "ChanjingWorkerCLI",
            dependencies: [
                "Kafka",
                "Ledger",
                "Chanjing",
                "ChanjingSimulator",
                "PoolCoordination",
                "VideoContract",
                "Worker",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ]
        ),
        .executableTarget(name: "chanjing-worker", dependencies: ["ChanjingWorkerCLI"]),

        .target(
            name: "TestSupport",
            dependencies: [
                "Kafka",
                "Chanjing",
                "ChanjingSimulator",
                "Primitives",
                "VideoContract",
                "Worker",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
            ],
            path: "Tests/TestSupport"
        ),
        .testTarget(name: "VideoContractTests", dependencies: ["VideoContract"]),
        .testTarget(name: "ChanjingTests", dependencies: ["Chanjing", "ChanjingSimulator", "TestSupport"]),
        .testTarget(name: "KafkaTests", dependencies: ["Kafka", "TestSupport"]),
        // Fast: the ledger's codec and compact held form, no Kafka.
        .testTarget(name: "LedgerTests", dependencies: ["Ledger", "Kafka", "TestSupport"]),
        .testTarget(
            name: "PoolCoordinationTests",
            dependencies: ["PoolCoordination", "Chanjing", "ChanjingSimulator", "Kafka", "TestSupport"]
        ),
        // Fast: no Kafka, no child processes (README: `swift test --filter '^(WorkerTests|LedgerTests)\.'`).
        .testTarget(
            name: "WorkerTests",
            dependencies: ["Worker", "Kafka", "Chanjing", "ChanjingSimulator", "Ledger", "Primitives", "VideoContract", "TestSupport"]
        ),
        // The worker with the real pieces: the mock cluster, the simulator, worker processes.
        .testTarget(
            name: "WorkerIntegrationTests",
            dependencies: ["Worker", "Kafka", "Chanjing", "ChanjingSimulator", "Ledger", "PoolCoordination", "VideoContract", "TestSupport"]
        ),
        .testTarget(
            name: "ChanjingWorkerCLITests",
            dependencies: ["ChanjingWorkerCLI", "Worker", "Kafka", "ChanjingSimulator", "VideoContract", "TestSupport"]
        ),
    ],
    swiftLanguageModes: [.v6]
)
