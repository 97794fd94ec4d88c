import Foundation
import Synchronization
import Testing
import TestSupport

@testable import Kafka

/// Blocking librdkafka calls on threads of their own, named. With a deadline, one that overruns is
/// abandoned, and what it used is freed once it returns (a client destroyed while its call still
/// ran would crash).
@Suite("Blocking calls on threads of their own")
struct BlockingThreadTests {
    final class Calls: Sendable {
        let cleanedUp = Mutex(0)
    }

    @Test("a call past its deadline gives nil, and its clean-up runs once it has returned; a call in time has none", .timeLimit(.minutes(1)))
    func abandonedCallIsCleanedUp() async throws {
        let calls = Calls()
        let late: Int? = await BlockingThread.run(name: "late", deadline: .milliseconds(100), whenAbandoned: { calls.cleanedUp.withLock { $0 += 1 } }) {
            Thread.sleep(forTimeInterval: 0.5)
            return 1
        }
        #expect(late == nil)
        #expect(calls.cleanedUp.withLock { $0 } == 0, "the call is still running: nothing may be freed yet")
        try await eventually(5, "the abandoned call's clean-up") { calls.cleanedUp.withLock { $0 } == 1 }

        let inTime: Int? = await BlockingThread.run(name: "in-time", deadline: .seconds(5), whenAbandoned: { calls.cleanedUp.withLock { $0 += 1 } }) { 2 }
        #expect(inTime == 2)
        try await Task.sleep(for: .milliseconds(200))
        #expect(calls.cleanedUp.withLock { $0 } == 1, "a call that answered in time is cleaned up by its caller")
    }

    @Test("a blocking call's thread carries its name, as top -H shows it", .timeLimit(.minutes(1)))
    func threadIsNamed() async throws {
        let name = await BlockingThread.run(name: "kafka-prod-poll") {
            (try? String(contentsOfFile: "/proc/thread-self/comm", encoding: .utf8)) ?? ""
        }
        #expect(name == "kafka-prod-poll\n")
    }
}
