import Synchronization
import Testing

@testable import Worker

/// `--max-in-flight` as requests step aside for waits of their own and come back.
@Suite("In-flight slots")
struct InFlightSlotsTests {
    /// A value shared with a task.
    private final class Shared<Value: Sendable>: Sendable {
        private let value: Mutex<Value>
        init(_ value: Value) { self.value = Mutex(value) }
        var current: Value {
            get { value.withLock { $0 } }
            set { value.withLock { $0 = newValue } }
        }
    }

    /// Runs `take()` in a task and tells whether it has returned yet.
    private struct Taker {
        let task: Task<Bool, Never>
        private let returned = Shared<Bool?>(nil)

        init(_ slots: InFlightSlots) {
            let returned = self.returned
            task = Task {
                let taken = await slots.take()
                returned.current = taken
                return taken
            }
        }

        var result: Bool? { returned.current }
    }

    private static func settle() async throws { try await Task.sleep(for: .milliseconds(100)) }

    /// A request ends: its slot, then its place among those held.
    private static func end(_ slots: InFlightSlots) {
        slots.release()
        slots.ended()
    }

    @Test("new records wait while every slot is taken, and take the slot a request gives back", .timeLimit(.minutes(1)))
    func takeWaitsForRelease() async throws {
        let slots = InFlightSlots(capacity: 2)
        #expect(await slots.take())
        #expect(await slots.take())
        let taker = Taker(slots)
        try await Self.settle()
        #expect(taker.result == nil, "no third slot")
        slots.release()
        #expect(await taker.task.value, "a request writing its result gave its slot back")
        #expect(slots.active == 2 && slots.held == 3)
    }

    @Test("no more than twice --max-in-flight are held, at work or not", .timeLimit(.minutes(1)))
    func heldLimit() async throws {
        let slots = InFlightSlots(capacity: 1)
        #expect(await slots.take())
        slots.release()
        #expect(await slots.take())
        slots.release()
        let taker = Taker(slots)
        try await Self.settle()
        #expect(taker.result == nil, "two held, both waiting for Kafka")
        slots.ended()
        #expect(await taker.task.value)
    }

    @Test("a request stepping aside lets a new record in; back from its wait, it goes before the next new record", .timeLimit(.minutes(1)))
    func rejoinGoesFirst() async throws {
        let slots = InFlightSlots(capacity: 2)
        #expect(await slots.take())
        #expect(await slots.take())
        slots.stepAside()
        #expect(await slots.take(), "the slot stepped out of")
        let rejoined = Task { await slots.rejoin(before: Revocation()) }
        while slots.rejoining == 0 { try await Task.sleep(for: .milliseconds(10)) }
        let taker = Taker(slots)
        try await Self.settle()
        Self.end(slots)
        #expect(slots.rejoining == 0 && slots.active == 2, "the freed slot was handed over as it was given back")
        #expect(await rejoined.value, "the request back from its wait takes the freed slot")
        #expect(taker.result == nil, "the new record still waits")
        Self.end(slots)
        #expect(await taker.task.value)
    }

    @Test("a request no longer wanted (its partition revoked) stops waiting to rejoin and ends holding a slot past the capacity", .timeLimit(.minutes(1)))
    func rejoinGivesUp() async throws {
        let slots = InFlightSlots(capacity: 1)
        #expect(await slots.take())
        slots.stepAside()
        #expect(await slots.take())
        let revocation = Revocation()
        let rejoined = Task { await slots.rejoin(before: revocation) }
        try await Self.settle()
        revocation.begin()
        #expect(await rejoined.value == false)
        #expect(slots.active == 2, "held until it ends")
        Self.end(slots)
        Self.end(slots)
        #expect(slots.active == 0 && slots.held == 0)
        #expect(await slots.take(), "nothing left waiting to rejoin")
    }

    @Test("a graceful shutdown (close) ends the wait for a slot, and no record is taken after it", .timeLimit(.minutes(1)))
    func closeEndsTheWait() async throws {
        let slots = InFlightSlots(capacity: 1)
        #expect(await slots.take())
        let taker = Taker(slots)
        try await Self.settle()
        slots.close()
        #expect(await taker.task.value == false)
        Self.end(slots)
        #expect(await slots.take() == false)
    }

    @Test("waiting for a slot ends when the consume loop is cancelled", .timeLimit(.minutes(1)))
    func takeCancelled() async throws {
        let slots = InFlightSlots(capacity: 1)
        #expect(await slots.take())
        let taker = Taker(slots)
        try await Self.settle()
        taker.task.cancel()
        #expect(await taker.task.value == false)
        #expect(slots.active == 1)
    }
}
