import Kafka
import Testing
import TestSupport

@testable import Ledger
@testable import Worker

@Suite("The ledger topic's retention is read at start-up and explained")
struct LedgerTopicCheckTests {
    private func assess(_ ledger: [String: String], requests: [String: String] = ["retention.ms": "604800000"]) -> LedgerTopicCheck.Assessment {
        LedgerTopicCheck.assess(ledger: ledger, ledgerTopic: "ledger", requests: requests, requestsTopic: "requests")
    }

    @Test("as provisioned (delete, the requests topic's 7 days): how long it remembers, no warning")
    func provisioned() {
        let assessment = assess(["cleanup.policy": "delete", "retention.ms": "604800000", "retention.bytes": "-1"])
        #expect(assessment.summary.hasPrefix("The ledger remembers a request for 7 days (ledger: cleanup.policy=delete, retention.ms=604800000"), "\(assessment.summary)")
        #expect(assessment.warnings.isEmpty, "\(assessment.warnings)")
        // compact,delete deletes by time like delete alone.
        #expect(assess(["cleanup.policy": "compact,delete", "retention.ms": "864000000"]).warnings.isEmpty)
    }

    @Test("compacted only, as the first design said: nothing is ever deleted, and memory grows")
    func compacted() {
        let assessment = assess(["cleanup.policy": "compact", "retention.ms": "604800000"])
        #expect(assessment.summary.contains("never deletes"))
        #expect(assessment.warnings.count == 1)
        #expect(assessment.warnings.first?.contains("compacted only") == true)
        #expect(assessment.warnings.first?.contains("cleanup.policy=delete") == true, "says what to do")
    }

    @Test("infinite retention: a warning about memory; size-based retention alone: a warning about duplicates")
    func forever() {
        let forever = assess(["cleanup.policy": "delete", "retention.ms": "-1", "retention.bytes": "-1"])
        #expect(forever.summary.contains("never deletes"))
        #expect(forever.warnings.first?.contains("keeps its records forever (retention.ms=-1)") == true, "\(forever.warnings)")

        let bySize = assess(["cleanup.policy": "delete", "retention.ms": "-1", "retention.bytes": "1073741824"])
        #expect(bySize.summary.contains("until its partition holds 1073741824 bytes"), "\(bySize.summary)")
        #expect(bySize.warnings.count == 1)
        #expect(bySize.warnings.first?.contains("Set retention.bytes=-1") == true)
    }

    @Test("a ledger that forgets before the requests topic does: a redelivery would be submitted again")
    func shorterThanRequests() {
        let shorter = assess(["cleanup.policy": "delete", "retention.ms": "86400000"], requests: ["retention.ms": "1209600000"])
        #expect(shorter.summary.contains("for 1 day"))
        #expect(shorter.warnings == [
            "The ledger topic 'ledger' forgets a request after 1 day but the requests topic 'requests' keeps it for 14 days: a request redelivered later (a consumer group reset to earliest, a replay) is submitted to Chanjing again. Give the ledger at least the requests topic's retention.ms"
        ])
        let requestsForever = assess(["cleanup.policy": "delete", "retention.ms": "604800000"], requests: ["retention.ms": "-1"])
        #expect(requestsForever.warnings.first?.contains("keeps it forever") == true, "\(requestsForever.warnings)")
        let longer = assess(["cleanup.policy": "delete", "retention.ms": "1209600000"], requests: ["retention.ms": "604800000"])
        #expect(longer.warnings.isEmpty)
    }

    @Test("missing settings take Kafka's defaults (delete, 7 days)")
    func defaults() {
        let assessment = assess([:], requests: [:])
        #expect(assessment.summary.hasPrefix("The ledger remembers a request for 7 days"), "\(assessment.summary)")
        #expect(assessment.warnings.isEmpty)
    }

    @Test("durations read as an operator would write them")
    func durations() {
        #expect(LedgerTopicCheck.describe(milliseconds: 604_800_000) == "7 days")
        #expect(LedgerTopicCheck.describe(milliseconds: 3_600_000) == "1 hour")
        #expect(LedgerTopicCheck.describe(milliseconds: 129_600_000) == "1.5 days")
        #expect(LedgerTopicCheck.describe(milliseconds: 5_400_000) == "1.5 hours")
        #expect(LedgerTopicCheck.describe(milliseconds: 500) == "500 ms")
    }

    @Test("a cluster that cannot describe topic configurations (the mock) is noted at once, and start-up goes on", .timeLimit(.minutes(1)))
    func unsupported() async throws {
        let kafka = try KafkaTestCluster(partitions: 1)
        try await kafka.run(within: 30) {
            let started = ContinuousClock.now
            do throws(KafkaError) {
                _ = try await ClusterInspector.topicConfigurations(
                    [kafka.ledgerTopic], properties: kafka.clientProperties, timeout: .seconds(20), logger: TestLogging.logger()
                )
                Issue.record("the mock cluster has no DescribeConfigs; expected an error")
            } catch {
                #expect(error.name == "_UNSUPPORTED_FEATURE", "\(error)")
            }
            #expect(ContinuousClock.now - started < .seconds(10), "asked of a named broker, not of a controller the mock never names")

            let sink = LogSink()
            await LedgerTopicCheck.run(
                ledgerTopic: kafka.ledgerTopic, requestsTopic: kafka.requestsTopic, properties: kafka.clientProperties,
                timeout: .seconds(20), logger: TestLogging.capturing(sink)
            )
            let notice = sink.all.first { $0.hasPrefix("notice Cannot read how long the ledger topic") }
            #expect(notice?.contains("cleanup.policy=delete") == true, "\(sink.all)")
        }
    }
}
