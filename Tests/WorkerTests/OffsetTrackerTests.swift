import Kafka
import Testing
import TestSupport
@testable import Worker

@Suite("Offset tracking")
struct OffsetTrackerTests {
    let p0 = TopicPartition(topic: "t", partition: 0)
    let p1 = TopicPartition(topic: "t", partition: 1)

    @Test("the stored position only moves to the end of the contiguous finished run")
    func contiguousPrefix() {
        var tracker = OffsetTracker()
        tracker.assign([p0], generation: 1)
        for offset in 10..<15 { let began = tracker.begin(p0, offset: Int64(offset), generation: 1); #expect(began) }
        do { let value = tracker.finish(p0, offset: 12, generation: 1); #expect(value == nil) }
        do { let value = tracker.finish(p0, offset: 14, generation: 1); #expect(value == nil) }
        do { let value = tracker.finish(p0, offset: 10, generation: 1); #expect(value == 11) }
        #expect(tracker.lowestUnfinished[p0] == 11)
        do { let value = tracker.finish(p0, offset: 11, generation: 1); #expect(value == 13) }
        do { let value = tracker.finish(p0, offset: 13, generation: 1); #expect(value == 15) }
        #expect(tracker.inFlight() == 0)
    }

    @Test("random completion orders never store past an unfinished offset", arguments: 0..<20)
    func randomOrder(seed: Int) {
        var generator = SeededGenerator(seed: UInt64(seed))
        var tracker = OffsetTracker()
        tracker.assign([p0], generation: 3)
        let offsets = (0..<200).map { Int64($0 * 2) }  // gaps, as after compaction
        for offset in offsets { _ = tracker.begin(p0, offset: offset, generation: 3) }
        var finished = Set<Int64>()
        var stored: Int64 = 0
        for offset in offsets.shuffled(using: &generator) {
            finished.insert(offset)
            if let position = tracker.finish(p0, offset: offset, generation: 3) {
                #expect(position > stored)
                stored = position
            }
            // Every offset below the stored position is finished.
            #expect(offsets.filter { $0 < stored }.allSatisfy(finished.contains))
        }
        #expect(stored == offsets.last! + 1)
    }

    @Test("work from an older assignment can neither begin nor store")
    func generations() {
        var tracker = OffsetTracker()
        tracker.assign([p0], generation: 1)
        do { let value = tracker.begin(p0, offset: 0, generation: 1); #expect(value) }
        tracker.beginRevoke([p0])
        do { let value = tracker.begin(p0, offset: 1, generation: 1); #expect(!value) }
        tracker.remove([p0])
        tracker.assign([p0], generation: 2)
        do { let value = tracker.finish(p0, offset: 0, generation: 1); #expect(value == nil) }
        do { let value = tracker.begin(p0, offset: 5, generation: 1); #expect(!value) }
        do { let value = tracker.begin(p0, offset: 0, generation: 2); #expect(value) }
        do { let value = tracker.finish(p0, offset: 0, generation: 2); #expect(value == 1) }
        do { let value = tracker.begin(p1, offset: 0, generation: 2); #expect(!value) }
    }

    @Test("in-flight counts are per partition")
    func inFlight() {
        var tracker = OffsetTracker()
        tracker.assign([p0, p1], generation: 1)
        _ = tracker.begin(p0, offset: 0, generation: 1)
        _ = tracker.begin(p0, offset: 1, generation: 1)
        _ = tracker.begin(p1, offset: 0, generation: 1)
        _ = tracker.finish(p0, offset: 1, generation: 1)
        #expect(tracker.inFlight([p0]) == 1)
        #expect(tracker.inFlight([p1]) == 1)
        #expect(tracker.inFlight() == 2)
    }

    @Test("a record left unfinished is no longer in flight, and the position never passes it")
    func left() {
        var tracker = OffsetTracker()
        tracker.assign([p0], generation: 1)
        _ = tracker.begin(p0, offset: 0, generation: 1)
        _ = tracker.begin(p0, offset: 1, generation: 1)
        tracker.leave(p0, offset: 0, generation: 1)
        #expect(tracker.inFlight([p0]) == 1)
        do { let value = tracker.finish(p0, offset: 1, generation: 1); #expect(value == nil, "offset 0 was left: the position stays before it") }
        #expect(tracker.inFlight([p0]) == 0)
    }
}

@Suite("Retry back-off")
struct RetryPolicyTests {
    @Test("exponential ceiling, capped, with full jitter")
    func backoff() {
        let policy = RetryPolicy(maxAttempts: 10, maxElapsed: .seconds(60), initialBackoff: .milliseconds(500), maxBackoff: .seconds(4))
        #expect(policy.backoff(afterAttempt: 1, random: { 1 }) == .milliseconds(500))
        #expect(policy.backoff(afterAttempt: 2, random: { 1 }) == .seconds(1))
        #expect(policy.backoff(afterAttempt: 3, random: { 1 }) == .seconds(2))
        #expect(policy.backoff(afterAttempt: 5, random: { 1 }) == .seconds(4))
        #expect(policy.backoff(afterAttempt: 60, random: { 1 }) == .seconds(4))
        #expect(policy.backoff(afterAttempt: 3, random: { 0 }) == .zero)
        #expect(policy.backoff(afterAttempt: 3, random: { 0.5 }) == .seconds(1))
    }
}
