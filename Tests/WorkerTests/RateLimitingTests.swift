import Synchronization
import Testing
@testable import Worker

@Suite("Rate limiting")
struct RateLimitingTests {
    let start = ContinuousClock.now

    @Test("the pacer spaces calls evenly and banks no burst while idle")
    func pacer() {
        var pacer = Pacer()
        #expect(pacer.reserve(now: start, rate: nil) == start)
        #expect(pacer.reserve(now: start, rate: 50) == start)
        #expect(pacer.reserve(now: start, rate: 50) == start + .milliseconds(20))
        #expect(pacer.reserve(now: start, rate: 50) == start + .milliseconds(40))
        // After a quiet second the next call goes at once, and the one after it waits again.
        let later = start + .seconds(1)
        #expect(pacer.reserve(now: later, rate: 50) == later)
        #expect(pacer.reserve(now: later, rate: 50) == later + .milliseconds(20))
    }

    @Test("slots given back go to the next callers, earliest first; a slot given back that has passed is not banked")
    func givenBack() {
        var pacer = Pacer()
        let slots = (0..<5).map { _ in pacer.reserve(now: start, rate: 10) }
        #expect(slots == (0..<5).map { start + .milliseconds(100 * $0) })
        // The requests holding the last three slots leave (their partition was revoked).
        for slot in slots[2...].reversed() { pacer.giveBack(slot, now: start) }
        #expect(pacer.reserve(now: start, rate: 10) == slots[2])
        #expect(pacer.reserve(now: start, rate: 10) == slots[3])
        // At 350 ms the slot of 300 ms has passed unused: the next caller gets the one of 400 ms.
        pacer.giveBack(slots[3], now: start)
        let late = start + .milliseconds(350)
        #expect(pacer.reserve(now: late, rate: 10) == slots[4])
        #expect(pacer.reserve(now: late, rate: 10) == start + .milliseconds(500))
    }

    @Test("nothing is limited before the first 40001; then the limit starts under the accepted rate")
    func firstThrottle() {
        var rate = AdaptiveRate(decrease: 0.9, increasePerSecond: 1)
        for index in 0..<50 { rate.accepted(now: start + .milliseconds(index * 20)) }
        #expect(rate.limit == nil)
        rate.throttled(now: start + .seconds(1))
        #expect(rate.limit == 45)
    }

    @Test("decrease is multiplicative, once per cooldown; increase is additive")
    func aimd() throws {
        var rate = AdaptiveRate(decrease: 0.5, increasePerSecond: 2, cooldown: .seconds(1))
        for index in 0..<100 { rate.accepted(now: start + .milliseconds(index * 10)) }
        rate.throttled(now: start + .seconds(1))
        #expect(rate.limit == 50)
        rate.throttled(now: start + .milliseconds(1500))  // answers to calls made before the cut
        #expect(rate.limit == 50)
        rate.throttled(now: start + .milliseconds(2100))
        #expect(rate.limit == 25)
        rate.accepted(now: start + .milliseconds(4100))
        #expect(try #require(rate.limit) == 29)
        rate.accepted(now: start + .milliseconds(4600))
        #expect(try #require(rate.limit) == 30)
    }

    @Test("a pool member grows by its share of the partitions, so the pool grows as one client")
    func poolAwareGrowth() throws {
        var rate = AdaptiveRate(decrease: 0.5, increasePerSecond: 2, cooldown: .seconds(1))
        rate.share = 0.25
        for index in 0..<100 { rate.accepted(now: start + .milliseconds(index * 10)) }
        rate.throttled(now: start + .seconds(1))
        #expect(rate.limit == 50)
        rate.accepted(now: start + .seconds(3))
        #expect(try #require(rate.limit) == 51, "2 s at a quarter of 2 calls/s per second")
    }

    @Test("the limit never drops below the minimum and is lifted after a quiet period")
    func bounds() {
        var rate = AdaptiveRate(minimum: 2, decrease: 0.1, cooldown: .zero, releaseAfter: .seconds(30))
        rate.throttled(now: start)
        rate.throttled(now: start + .seconds(1))
        #expect(rate.limit == 2)
        rate.accepted(now: start + .seconds(40))
        #expect(rate.limit == nil)
    }

    @Test("the pool quota is shared in proportion to the partitions owned")
    func poolShare() {
        let limiter = RateLimiter(maxQPS: nil, poolMaxQPS: 100, totalPartitions: 8)
        limiter.partitionsOwned(2)
        #expect(limiter.currentRate == 25)
        limiter.partitionsOwned(8)
        #expect(limiter.currentRate == 100)
        let capped = RateLimiter(maxQPS: 30, poolMaxQPS: 100, totalPartitions: 2)
        capped.partitionsOwned(2)
        #expect(capped.currentRate == 30)
        #expect(RateLimiter(maxQPS: nil, poolMaxQPS: nil, totalPartitions: 4).currentRate == nil)
    }

    @Test("acquire paces real calls", .timeLimit(.minutes(1)))
    func acquire() async throws {
        let limiter = RateLimiter(maxQPS: 20, poolMaxQPS: nil, totalPartitions: 1)
        let clock = ContinuousClock()
        let elapsed = await clock.measure {
            for _ in 0..<11 { #expect(await limiter.acquire(before: Revocation())) }
        }
        #expect(elapsed >= .milliseconds(480))  // 10 intervals of 50 ms
    }

    @Test("a request revoked while it waits for its slot leaves at once, and its slot goes to the next request", .timeLimit(.minutes(1)))
    func revokedWhileWaiting() async throws {
        let limiter = RateLimiter(maxQPS: 1, poolMaxQPS: nil, totalPartitions: 1)
        #expect(await limiter.acquire(before: Revocation()))  // the slot of now; the next is in 1 s
        let revocation = Revocation()
        let clock = ContinuousClock()
        async let left = clock.measure { #expect(await limiter.acquire(before: revocation) == false) }
        try await Task.sleep(for: .milliseconds(100))
        revocation.begin()
        #expect(await left < .milliseconds(900), "it left before its slot came")
        // The next request takes the slot given back (at 1 s), not the one after it (at 2 s).
        let next = await clock.measure { #expect(await limiter.acquire(before: Revocation())) }
        #expect(next < .milliseconds(1500))
    }
}

@Suite("Ordering by key")
struct KeyedSequencerTests {
    @Test("same-key requests run one after another in reservation order; other keys do not wait", .timeLimit(.minutes(1)))
    func order() async throws {
        let sequencer = KeyedSequencer()
        let log = EventLog()
        let a1 = sequencer.reserve(Array("a".utf8))
        let a2 = sequencer.reserve(Array("a".utf8))
        let b1 = sequencer.reserve(Array("b".utf8))
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                try await sequencer.waitForTurn(a2)
                await log.append("a2")
                sequencer.finish(a2)
            }
            group.addTask {
                try await sequencer.waitForTurn(b1)
                await log.append("b1")
                sequencer.finish(b1)
            }
            try await Task.sleep(for: .milliseconds(100))
            #expect(await log.events == ["b1"])  // a2 waits for a1, b1 does not
            try await sequencer.waitForTurn(a1)
            await log.append("a1")
            sequencer.finish(a1)
            try await group.waitForAll()
        }
        #expect(await log.events == ["b1", "a1", "a2"])
    }

    @Test("a cancelled wait throws and lets the line move on", .timeLimit(.minutes(1)))
    func cancellation() async throws {
        let sequencer = KeyedSequencer()
        let first = sequencer.reserve([1])
        let second = sequencer.reserve([1])
        let waiting = Task { try await sequencer.waitForTurn(second) }
        try await Task.sleep(for: .milliseconds(50))
        waiting.cancel()
        await #expect(throws: CancellationError.self) { try await waiting.value }
        sequencer.finish(second)
        sequencer.finish(first)
        let third = sequencer.reserve([1])
        try await sequencer.waitForTurn(third)
    }
}

actor EventLog {
    private(set) var events: [String] = []
    func append(_ event: String) { events.append(event) }
}
