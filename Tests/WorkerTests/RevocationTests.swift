import Kafka
import Testing
import TestSupport
@testable import Worker

@Suite("Waiting until a partition is revoked")
struct RevocationTests {
    let clock = ContinuousClock()

    @Test("a sleep lasts until its deadline while nothing begins the revocation", .timeLimit(.minutes(1)))
    func sleepsToItsDeadline() async {
        let revocation = Revocation()
        let start = clock.now
        #expect(await revocation.sleep(until: start + .milliseconds(150)))
        #expect(clock.now - start >= .milliseconds(150))
        #expect(await revocation.sleep(until: start), "a deadline passed already")
        #expect(!revocation.hasBegun)
    }

    @Test("beginning the revocation wakes every sleeper, long before its deadline", .timeLimit(.minutes(1)))
    func beginWakesEverySleeper() async {
        let revocation = Revocation()
        let start = clock.now
        await withTaskGroup(of: Bool.self) { group in
            for _ in 0..<200 { group.addTask { await revocation.sleep(until: .now + .seconds(600)) } }
            group.addTask {
                await revocation.wait()
                return false
            }
            group.addTask {
                try? await Task.sleep(for: .milliseconds(100))
                revocation.begin()
                return false
            }
            let woken = await group.reduce(into: [Bool]()) { $0.append($1) }
            #expect(woken.count == 202 && woken.allSatisfy { !$0 }, "every sleep ended early")
        }
        #expect(revocation.hasBegun)
        #expect(clock.now - start < .seconds(30))
        // Begun before the sleep: it returns at once, whatever its deadline.
        let late = clock.now
        #expect(await revocation.sleep(until: .now + .seconds(600)) == false)
        #expect(await Revocation.begun.sleep(until: .now + .seconds(600)) == false)
        #expect(clock.now - late < .seconds(30))
    }

    @Test("cancelling a sleeping task ends its sleep, and only its own", .timeLimit(.minutes(1)))
    func cancellationEndsOneSleep() async {
        let revocation = Revocation()
        let cancelled = Task { await revocation.sleep(until: .now + .seconds(600)) }
        let other = Task { await revocation.sleep(until: .now + .milliseconds(400)) }
        try? await Task.sleep(for: .milliseconds(50))
        cancelled.cancel()
        #expect(await cancelled.value == false)
        #expect(await other.value, "the other sleeper slept to its deadline")
        #expect(!revocation.hasBegun)
        let alreadyCancelled = Task {
            withUnsafeCurrentTask { $0?.cancel() }
            return await revocation.sleep(until: .now + .seconds(600))
        }
        #expect(await alreadyCancelled.value == false)
    }

    @Test("each assignment of a partition has its own revocation, begun when the partition is revoked or assigned anew", .timeLimit(.minutes(1)))
    func coordinatorBeginsRevocations() async {
        let coordinator = OffsetCoordinator(
            revokeTimeout: .seconds(5), limiter: RateLimiter(maxQPS: nil, poolMaxQPS: nil, totalPartitions: 2),
            retention: RetentionGapDetector(offsets: .init(committed: { _ in [:] }, logStart: { _ in 0 }), newGroupStartsAtZero: true, metrics: WorkerMetrics(), logger: TestLogging.logger()),
            logger: TestLogging.logger()
        )
        let zero = TopicPartition(topic: "requests", partition: 0)
        let one = TopicPartition(topic: "requests", partition: 1)
        func message(_ partition: TopicPartition, generation: Int) -> KafkaMessage {
            KafkaMessage(topic: partition.topic, partition: partition.partition, offset: 7, key: nil, value: [], generation: generation)
        }
        #expect(coordinator.revocation(of: message(zero, generation: 1)).hasBegun, "not assigned: not wanted")

        coordinator.partitionsAssigned([zero, one], generation: 1)
        let first = coordinator.revocation(of: message(zero, generation: 1))
        let other = coordinator.revocation(of: message(one, generation: 1))
        #expect(!first.hasBegun && !other.hasBegun)
        #expect(first === coordinator.revocation(of: message(zero, generation: 1)), "the records of one assignment share it")
        #expect(coordinator.revocation(of: message(zero, generation: 0)).hasBegun, "a record of an earlier assignment")

        async let sleeper = first.sleep(until: .now + .seconds(600))
        coordinator.partitionsRevoking([zero], lost: false)
        #expect(await sleeper == false, "the revocation woke the request sleeping in the partition")
        #expect(!other.hasBegun, "the partition kept is not revoked")

        coordinator.partitionsAssigned([zero], generation: 2)
        let second = coordinator.revocation(of: message(zero, generation: 2))
        #expect(!second.hasBegun)
        coordinator.partitionsAssigned([zero, one], generation: 3)
        #expect(second.hasBegun && other.hasBegun, "assigned anew without a revocation: the earlier assignments are over")
        #expect(!coordinator.revocation(of: message(one, generation: 3)).hasBegun)
    }
}
