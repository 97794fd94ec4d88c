import Synchronization
import Testing
import TestSupport
@testable import Worker

@Suite("Circuit state")
struct CircuitStateTests {
    let start = ContinuousClock.now

    @Test("a run of transient failures opens it; one probe goes after the open period; success closes it")
    func cycle() {
        var circuit = CircuitState(failureThreshold: 3, initialOpen: .seconds(5), maxOpen: .seconds(60))
        do { let value = circuit.permit(now: start); #expect(value == .granted) }
        do { let value = circuit.failedTransiently(now: start, reason: "502"); #expect(value == nil) }
        #expect(circuit.succeeded() == nil)  // a success resets the run
        _ = circuit.failedTransiently(now: start, reason: "502")
        _ = circuit.failedTransiently(now: start, reason: "502")
        do { let value = circuit.failedTransiently(now: start, reason: "502"); #expect(value == .opened(for: .seconds(5))) }
        do { let value = circuit.permit(now: start + .seconds(4)); #expect(value == .wait(until: start + .seconds(5))) }
        do { let value = circuit.permit(now: start + .seconds(5)); #expect(value == .granted) }  // the probe
        do { let value = circuit.permit(now: start + .seconds(5)); #expect(value == .wait(until: start + .seconds(65))) }  // only one, until the probe is presumed lost
        do { let value = circuit.succeeded(); #expect(value == .closed) }
        do { let value = circuit.permit(now: start + .seconds(6)); #expect(value == .granted) }
    }

    @Test("a failed probe reopens for twice as long, up to the maximum")
    func backoff() {
        var circuit = CircuitState(failureThreshold: 1, initialOpen: .seconds(5), maxOpen: .seconds(12))
        do { let value = circuit.tripped(now: start, reason: "蝉豆不足"); #expect(value == .opened(for: .seconds(5))) }
        do { let value = circuit.tripped(now: start + .seconds(1), reason: "late answer"); #expect(value == nil) }
        do { let value = circuit.permit(now: start + .seconds(5)); #expect(value == .granted) }
        do { let value = circuit.failedTransiently(now: start + .seconds(5), reason: "still down"); #expect(value == .opened(for: .seconds(10))) }
        do { let value = circuit.permit(now: start + .seconds(15)); #expect(value == .granted) }
        do { let value = circuit.tripped(now: start + .seconds(15), reason: "still down"); #expect(value == .opened(for: .seconds(12))) }
    }

    @Test("a probe that never reports back is replaced")
    func lostProbe() {
        var circuit = CircuitState(failureThreshold: 1, initialOpen: .seconds(1), probeTimeout: .seconds(30))
        _ = circuit.tripped(now: start, reason: "x")
        do { let value = circuit.permit(now: start + .seconds(1)); #expect(value == .granted) }
        do { let value = circuit.permit(now: start + .seconds(20)); #expect(value == .wait(until: start + .seconds(31))) }
        do { let value = circuit.permit(now: start + .seconds(31)); #expect(value == .granted) }
    }
}

@Suite("Circuit breaker")
struct CircuitBreakerTests {
    @Test("requests waiting for an open circuit sleep until it changes: closing it wakes them all, a revocation only its own", .timeLimit(.minutes(1)))
    func toldWhenClosed() async throws {
        let breaker = CircuitBreaker(state: CircuitState(failureThreshold: 1, initialOpen: .seconds(60)), logger: TestLogging.logger())
        breaker.tripped("balance exhausted")
        let kept = Revocation()
        let revoked = Revocation()
        let waiting = (0..<50).map { _ in Task { await breaker.permit(before: kept) } }
        let leaving = Task { await breaker.permit(before: revoked) }
        try await eventually(10, "51 requests asleep") { breaker.sleeps == 51 }
        // Looked at every 200 ms, as before, they would have looked again 150 times by now.
        try await Task.sleep(for: .milliseconds(600))
        #expect(breaker.sleeps == 51)

        revoked.begin()
        let left = await leaving.value
        #expect(!left, "the revoked request leaves unsent")
        breaker.succeeded()
        let permitted = await values(of: waiting)
        #expect(permitted == Array(repeating: true, count: 50))
        #expect(breaker.sleeps == 51, "each woke once, when the circuit closed, and went")
        #expect(!breaker.isOpen)
    }

    @Test("when the open period ends one waiting request probes; the others sleep until its answer reopens the circuit", .timeLimit(.minutes(1)))
    func oneProbe() async throws {
        let breaker = CircuitBreaker(state: CircuitState(failureThreshold: 1, initialOpen: .milliseconds(300)), logger: TestLogging.logger())
        breaker.tripped("balance exhausted")
        let revocation = Revocation()
        let permitted = Counter()
        let waiting = (0..<10).map { _ in
            Task {
                let permit = await breaker.permit(before: revocation)
                if permit { permitted.add() }
                return permit
            }
        }
        try await eventually(10, "the probe to go") { permitted.value == 1 }
        // Everyone woke at the end of the open period; the nine left fell asleep again.
        try await eventually(10, "nine requests asleep again") { breaker.sleeps == 19 }
        try await Task.sleep(for: .milliseconds(300))
        #expect(permitted.value == 1, "only the probe goes while it has not answered")

        // The probe failed: the circuit reopens (600 ms), and the nine are told, fall asleep until
        // the new end, and one of them probes then.
        breaker.failedTransiently("502")
        try await eventually(10, "the second probe to go") { permitted.value == 2 }
        breaker.succeeded()
        let permits = await values(of: waiting)
        #expect(permits == Array(repeating: true, count: 10))
        #expect(permitted.value == 10)
    }
}

private func values(of tasks: [Task<Bool, Never>]) async -> [Bool] {
    var values: [Bool] = []
    for task in tasks { values.append(await task.value) }
    return values
}

private final class Counter: Sendable {
    private let count = Mutex(0)
    var value: Int { count.withLock { $0 } }
    func add() { count.withLock { $0 += 1 } }
}
