import Crdkafka
import Testing
import TestSupport

@testable import Kafka

/// librdkafka calls back through a handle's opaque pointer for as long as the handle lives, and a
/// call abandoned past its deadline (a watermark query that ignores its timeout) leaves its
/// handle running. The context those callbacks reach must live as long as the handle.
@Suite("A Kafka handle owns its callback context")
struct RDKafkaClientTests {
    @Test("a handle never destroyed keeps its context alive; destroying it lets the context go")
    func contextLivesWithHandle() throws {
        let properties = KafkaProperties(["bootstrap.servers": "127.0.0.1:1", "log_level": "0"])
        weak var abandonedContext: CallbackContext?
        let handle: OpaquePointer
        do {
            let context = CallbackContext(logger: TestLogging.logger("abandoned"))
            abandonedContext = context
            // Left running, as an abandoned call leaves it: only the handle refers to the context now.
            handle = try RDKafkaClient.make(.producer, properties: properties, context: context).pointer
        }
        #expect(abandonedContext != nil, "the running handle's callbacks would reach freed memory")
        rd_kafka_destroy(handle)

        weak var destroyedContext: CallbackContext?
        do {
            let context = CallbackContext(logger: TestLogging.logger("destroyed"))
            destroyedContext = context
            let client = try RDKafkaClient.make(.producer, properties: properties, context: context)
            client.destroy()
        }
        #expect(destroyedContext == nil, "a destroyed handle no longer holds its context")
    }
}

@Suite("Each client gets the properties of its kind")
struct ClientPropertiesTests {
    @Test("one set of user properties gives neither the producer nor the consumer a CONFWARN; a bad value of its own kind is still refused")
    func noWarningForTheOtherKind() throws {
        let properties = KafkaProperties([
            "bootstrap.servers": "127.0.0.1:1", "session.timeout.ms": "6000", "group.id": "g", "fetch.wait.max.ms": "100",
            "linger.ms": "5", "acks": "all", "message.timeout.ms": "20000", "client.id": "both",
        ])
        let log = LogSink()
        for kind in [RDKafkaClient.Kind.producer, .consumer] {
            let client = try RDKafkaClient.make(kind, properties: properties, context: CallbackContext(logger: TestLogging.capturing(log, level: .warning)))
            client.destroy()
        }
        #expect(log.all.filter { $0.contains("CONFWARN") || $0.contains("will be ignored") }.isEmpty, "\(log.all)")

        let bad = KafkaProperties(["bootstrap.servers": "127.0.0.1:1", "linger.ms": "not a number"])
        #expect(throws: KafkaError.self) { try RDKafkaClient.make(.producer, properties: bad, context: CallbackContext(logger: TestLogging.logger())) }
    }
}
