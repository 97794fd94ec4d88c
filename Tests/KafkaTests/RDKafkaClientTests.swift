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
