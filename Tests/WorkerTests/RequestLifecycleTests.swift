@testable import Chanjing
import Foundation
import Testing
import VideoContract
@testable import Ledger
@testable import Worker

/// The request state machine alone, without Kafka or HTTP: every order of events up to a depth,
/// checked against the invariants the worker promises.
@Suite("A request's lifecycle")
struct RequestLifecycleTests {
    typealias Lifecycle = RequestLifecycle
    typealias Action = RequestLifecycle.Action
    typealias Event = RequestLifecycle.Event

    static let request = VideoRequest(requestID: "r-1", prompt: "a lighthouse in a storm")
    static let hash = request.submitBody.ledgerHash
    /// The record's offset; outcomes recorded for it name it, those of another record of the
    /// same request (a copy, or `replay`) do not.
    static let offset: Int64 = 41
    static let start = Lifecycle.Now(date: Date(timeIntervalSince1970: 1_800_000_000), instant: .now)
    static let retry = RetryPolicy(maxAttempts: 3, maxElapsed: .seconds(600), initialBackoff: .milliseconds(100), maxBackoff: .seconds(1))

    /// One step of a path: the action taken and the event that answered it (nil for the last).
    struct Step {
        var action: Action
        var event: Event?
        /// For an intent's acknowledgement: whether it came later than `sendWithin`.
        var slow = false
    }

    /// The answers explored for each action.
    static func answers(to action: Action, now: Lifecycle.Now) -> [(Event, advance: Duration)] {
        let tick = Duration.milliseconds(10)
        switch action {
        case .waitForTurn:
            return [(.turnGranted, tick), (.notWanted, tick)]
        case .lookUp:
            func entry(
                _ kind: LedgerEntry.Kind, _ status: LedgerEntry.Status? = nil, code: String? = nil, hash: String = hash, completion: LedgerEntry.Completion? = nil,
                sameRecord: Bool = false
            ) -> Event {
                .ledgerAnswered(.found(LedgerEntry(
                    kind: kind, requestID: "r-1", bodyHash: hash, at: LedgerEntry.milliseconds(start.date) - 5_000, status: status,
                    creationID: status == .submitted ? "earlier-task" : nil, error: code.map { .init(code: $0, message: "earlier") },
                    requestOffset: kind == .outcome ? (sameRecord ? offset : offset - 1) : nil, completion: completion
                )))
            }
            return [
                (.ledgerAnswered(.notAssigned), tick), (.ledgerAnswered(.absent), tick), (entry(.outcome, .submitted), tick),
                (entry(.outcome, .failed, code: "retries_exhausted"), tick), (entry(.outcome, .failed, code: "chanjing_error"), tick),
                // An error code a later version added.
                (entry(.outcome, .rejected, code: "a_later_code"), tick),
                (entry(.intent), tick), (entry(.adoption), tick), (entry(.outcome, .submitted, hash: "other"), tick),
                // Its task followed to the end, and Chanjing could not render it.
                (entry(.outcome, .submitted, completion: .failed), tick),
                // This record delivered again, whatever its outcome.
                (entry(.outcome, .failed, code: "retries_exhausted", sameRecord: true), tick),
                (entry(.outcome, .submitted, completion: .failed, sameRecord: true), tick),
            ]
        case .sleep(let deadline, _):
            return [(.woke, max(tick, deadline - now.instant)), (.notWanted, tick)]
        case .search:
            return [(.searched("found-task"), tick), (.searched(nil), tick), (.searchFailed(.httpStatus(503)), tick)]
        case .writeAdoption, .writeOutcome:
            return [(.written, tick)]
        case .waitForCircuit:
            return [(.circuitClosed(waited: false), tick), (.notWanted, tick)]
        case .waitForRateSlot:
            return [(.rateSlotGranted, tick), (.notWanted, tick)]
        case .takeToken:
            return [(.tokenTaken("token"), tick), (.chanjingFailed(.tokenUnavailable("fetch failed"), circuitOpen: false), tick), (.notWanted, tick)]
        case .writeIntent:
            return [(.intentAcknowledged(at: start.date), tick), (.intentAcknowledged(at: start.date), .seconds(3)), (.notWanted, tick)]
        case .call:
            return [
                (.submitted(SubmitTaskResponse(creationID: "new-task", traceID: nil)), tick),
                (.chanjingFailed(.api(code: 50000, message: "busy", traceID: nil), circuitOpen: false), tick),
                (.chanjingFailed(.transport("timed out", requestSent: true), circuitOpen: false), tick),
                (.chanjingFailed(.api(code: 50000, message: "busy", traceID: nil), circuitOpen: true), tick),
                (.chanjingFailed(.api(code: 40001, message: "too fast", traceID: nil), circuitOpen: false), tick),
                (.chanjingFailed(.api(code: 10400, message: "token", traceID: nil), circuitOpen: false), tick),
                (.chanjingFailed(.api(code: 40000, message: "bad", traceID: nil), circuitOpen: false), tick),
                (.chanjingFailed(.credentialsRefused("wrong secret"), circuitOpen: true), tick),
            ]
        case .end:
            return [(.ended(published: true), tick), (.ended(published: false), tick)]
        case .commit, .leave:
            return []
        }
    }

    static func isUnbounded(_ event: Event?) -> Bool {
        switch event {
        case .chanjingFailed(_, circuitOpen: true)?, .chanjingFailed(.tokenUnavailable, _)?, .searchFailed?: true
        default: false
        }
    }

    struct Exploration {
        var paths = 0
        var cut = 0
        var calls = 0
    }

    /// Walks every path up to `depth` actions, checking each complete one.
    static func explore(_ settings: Lifecycle.Settings, depth: Int = 26) -> Exploration {
        var exploration = Exploration()
        var path: [Step] = []
        func walk(_ lifecycle: Lifecycle, _ action: Action, now: Lifecycle.Now) {
            if case .commit = action { return finish(action) }
            if case .leave = action { return finish(action) }
            guard path.count < depth else {
                // Unfinished, but what it did so far must keep the invariants too.
                exploration.cut += 1
                return check(path, settings: settings)
            }
            if case .call = action { exploration.calls += 1 }
            // Answers that spend no attempt (an open circuit, no token, a failed search) could
            // repeat without end: each path takes at most one of them.
            let repeated = path.contains { isUnbounded($0.event) }
            for (event, advance) in answers(to: action, now: now) where !(repeated && isUnbounded(event)) {
                var next = lifecycle
                let later = Lifecycle.Now(date: now.date.addingTimeInterval(advance / .seconds(1)), instant: now.instant + advance)
                path.append(Step(action: action, event: event, slow: advance > Lifecycle.sendWithin))
                let following = next.next(event, at: later)
                walk(next, following, now: later)
                path.removeLast()
            }
        }
        func finish(_ last: Action) {
            exploration.paths += 1
            check(path + [Step(action: last)], settings: settings)
        }
        var lifecycle = Lifecycle(.valid(request), bodyHash: hash, offset: offset, timestamp: start.date, settings: settings, seed: 1)
        let first = lifecycle.start()
        walk(lifecycle, first, now: start)
        return exploration
    }

    /// The invariants, on one complete path.
    static func check(_ path: [Step], settings: Lifecycle.Settings) {
        /// Records a broken invariant with the path that broke it (cheaper than `#expect` over
        /// the hundreds of thousands of steps explored).
        func expect(_ holds: Bool, _ rule: String) {
            if !holds { Issue.record("\(rule):\n→ \(path.map { "\($0.action)" }.joined(separator: "\n→ "))") }
        }
        var mayHaveCreated = false  // a task may exist that no search has ruled out
        var submittedBefore = false  // the ledger holds a task of this request that may still make its video
        var redelivered = false  // the ledger holds this record's outcome
        var adopted = false
        var intentAcknowledged = false
        var ended = false
        for (index, step) in path.enumerated() {
            let previous = index > 0 ? path[index - 1] : nil
            if case .notWanted? = previous?.event {
                guard case .leave = step.action else { return expect(false, "a request no longer wanted must be left") }
            }
            switch step.action {
            case .lookUp, .search, .writeAdoption, .writeOutcome:
                expect(settings.ledger, "the ledger is off")
            case .writeIntent:
                expect(settings.ledger, "the ledger is off")
                // The token is at hand before the intent: no wait comes between an intent and its call.
                switch (previous?.action, previous?.event) {
                case (.takeToken?, .tokenTaken?): break
                case (.writeIntent?, .intentAcknowledged?) where previous?.slow == true: break
                default: expect(false, "an intent not right after its token or a late intent")
                }
            case .call:
                guard settings.ledger else { break }
                // The call follows its acknowledged, timely intent at once.
                guard case .writeIntent? = previous?.action, case .intentAcknowledged? = previous?.event, previous?.slow == false else {
                    return expect(false, "a call without a timely intent right before it")
                }
                expect(!mayHaveCreated && !adopted && !submittedBefore, "a second paid submit")
                expect(!redelivered, "a record delivered again is sent again")
            case .end(let ending, let recordOutcome, _):
                expect(!ended, "two endings")
                ended = true
                expect(recordOutcome == (settings.ledger && intentAcknowledged), "the outcome is recorded exactly when a call was made with the ledger on")
                if case .outcome(let outcome) = ending, adopted {
                    expect(outcome.status == .submitted && outcome.creationID == "found-task", "an adopted task is the result")
                }
                if redelivered {
                    guard case .outcome(let outcome) = ending, outcome.replayed else { return expect(false, "a record delivered again gets another answer") }
                }
            case .commit:
                guard case .end? = previous?.action, case .ended(published: true)? = previous?.event else {
                    return expect(false, "committed without an acknowledged result")
                }
            case .waitForTurn:
                expect(index == 0, "a turn is waited for first, once")
            case .leave, .sleep, .waitForCircuit, .waitForRateSlot, .takeToken:
                break
            }
            switch step.event {
            case .intentAcknowledged?:
                intentAcknowledged = true
            case .submitted?:
                mayHaveCreated = true
            case .chanjingFailed(let error, _)? where error.disposition == .retryAmbiguous:
                mayHaveCreated = true
            case .ledgerAnswered(.found(let record))? where record.bodyHash == hash:
                // An outcome whose code this version does not know is taken for the intent before it.
                let code = record.error.map { ResultErrorCode(rawValue: $0.code) }
                if record.kind != .outcome || code == .retriesExhausted || code == .some(nil) { mayHaveCreated = true }
                // Only a task that failed to render is submitted again.
                if record.kind == .outcome, record.status == .submitted, record.completion != .failed { submittedBefore = true }
                if record.kind == .outcome, record.requestOffset == offset, code != .some(nil) { redelivered = true }
            case .searched(let found)?:
                if found != nil { adopted = true } else { mayHaveCreated = false }
            default:
                break
            }
        }
    }

    @Test("with the ledger on, every event order keeps the invariants", arguments: ReconcilePolicy.allCases.filter { $0 != .resubmit })
    func ledgerOn(policy: ReconcilePolicy) {
        let exploration = Self.explore(Lifecycle.Settings(ledger: true, retry: Self.retry, reconcilePolicy: policy, reconcileDelay: .seconds(20)))
        #expect(exploration.paths > 10_000, "the exploration reached \(exploration.paths) ends")
        #expect(exploration.calls > 1_000)
    }

    @Test("with the ledger off, every event order keeps the invariants")
    func ledgerOff() {
        let exploration = Self.explore(Lifecycle.Settings(ledger: false, retry: Self.retry))
        #expect(exploration.paths > 1_000, "the exploration reached \(exploration.paths) ends")
    }

    /// Feeds `events` in order (each `advance` after the previous), returning every action.
    static func run(_ settings: Lifecycle.Settings, timestamp: Date? = start.date, _ events: [(Event, Duration)]) -> [Action] {
        var lifecycle = Lifecycle(.valid(request), bodyHash: hash, offset: offset, timestamp: timestamp, settings: settings, seed: 1)
        var now = start
        var actions = [lifecycle.start()]
        for (event, advance) in events {
            now = Lifecycle.Now(date: now.date.addingTimeInterval(advance / .seconds(1)), instant: now.instant + advance)
            actions.append(lifecycle.next(event, at: now))
        }
        return actions
    }

    @Test("an intent acknowledged later than 2 s after its time is followed by another, which the call follows")
    func lateIntent() {
        let settings = Lifecycle.Settings(ledger: true, retry: Self.retry)
        let actions = Self.run(settings, [
            (.turnGranted, .zero), (.ledgerAnswered(.absent), .zero), (.circuitClosed(waited: false), .zero), (.rateSlotGranted, .zero),
            (.tokenTaken("t"), .zero), (.intentAcknowledged(at: Self.start.date), .milliseconds(2400)),
            (.intentAcknowledged(at: Self.start.date.addingTimeInterval(2.4)), .milliseconds(30)),
        ])
        #expect(actions.suffix(3) == [
            .writeIntent(firstIntentAt: nil), .writeIntent(firstIntentAt: Self.start.date), .call(token: "t"),
        ])
    }

    @Test("an intent without an outcome is searched for once its call may have landed; not found, the request is submitted")
    func unfinishedIntent() {
        let settings = Lifecycle.Settings(ledger: true, retry: Self.retry, reconcileDelay: .seconds(20))
        let intentAt = Self.start.date.addingTimeInterval(-5)
        let intent = LedgerEntry(kind: .intent, requestID: "r-1", bodyHash: Self.hash, at: LedgerEntry.milliseconds(intentAt))
        let actions = Self.run(settings, [
            (.turnGranted, .zero), (.ledgerAnswered(.found(intent)), .zero), (.woke, .seconds(17)), (.searchFailed(.httpStatus(503)), .zero),
            (.woke, .seconds(1)), (.searched(nil), .zero),
        ])
        guard case .sleep(let deadline, .earlierCallMayLand) = actions[2] else {
            Issue.record("expected a wait for the earlier call, got \(actions[2])")
            return
        }
        // The intent's time, plus the 2 s within which its call was sent, plus the reconcile delay.
        #expect(deadline == Self.start.instant + .seconds(17))
        #expect(actions[3] == .search(since: LedgerEntry.date(intent.at)))
        guard case .sleep(_, .searchFailed(failures: 1, _)) = actions[4] else {
            Issue.record("a failed search is not \"not found\": expected a pause, got \(actions[4])")
            return
        }
        #expect(actions[5] == .search(since: LedgerEntry.date(intent.at)))
        #expect(actions[6] == .waitForCircuit(retried: nil))
    }

    @Test("an invalid request waits for its turn like any record, then ends rejected; shut down while waiting, it is left")
    func rejected() {
        let rejection = RequestRejection(code: .missingField, field: "ref_prompt", message: "ref_prompt is required")
        for ledger in [false, true] {
            let settings = Lifecycle.Settings(ledger: ledger, retry: Self.retry)
            var lifecycle = Lifecycle(.invalid(rejection, requestID: "r-1"), bodyHash: "", offset: Self.offset, timestamp: Self.start.date, settings: settings)
            #expect(lifecycle.start() == .waitForTurn)
            var left = lifecycle
            #expect(left.next(.notWanted, at: Self.start) == .leave)
            guard case .end(.rejected(let ended, "r-1"), recordOutcome: false, intentAt: nil) = lifecycle.next(.turnGranted, at: Self.start) else {
                Issue.record("expected the rejection to be published")
                continue
            }
            #expect(ended == rejection)
        }
    }

    @Test(
        "a request sent again after its task failed to render is submitted again; one whose task made its video, or the same record delivered again, is answered from the ledger"
    )
    func failedGeneration() {
        let settings = Lifecycle.Settings(ledger: true, retry: Self.retry)
        let cases: [(LedgerEntry.Completion, requestOffset: Int64, resubmitted: Bool)] = [
            (.failed, Self.offset - 5, true), (.succeeded, Self.offset - 5, false), (.expired, Self.offset - 5, false), (.failed, Self.offset, false),
        ]
        for (completion, requestOffset, resubmitted) in cases {
            let outcome = LedgerEntry(
                kind: .outcome, requestID: "r-1", bodyHash: Self.hash, at: 0, status: .submitted, creationID: "earlier-task", attempts: 1,
                requestOffset: requestOffset, completion: completion
            )
            let actions = Self.run(settings, [(.turnGranted, .zero), (.ledgerAnswered(.found(outcome)), .zero)])
            if resubmitted {
                #expect(actions.last == .waitForCircuit(retried: nil), "\(completion)")
            } else {
                guard case .end(.outcome(let replayed), recordOutcome: false, _)? = actions.last else {
                    Issue.record("\(completion): expected the recorded outcome, got \(String(describing: actions.last))")
                    continue
                }
                #expect(replayed.creationID == "earlier-task" && replayed.replayed)
            }
        }
    }

    @Test("a failed request's record delivered again gets its failure again; another record of the request is a new attempt")
    func failureRedelivered() {
        let settings = Lifecycle.Settings(ledger: true, retry: Self.retry)
        for (requestOffset, resubmitted) in [(Self.offset, false), (Self.offset - 5, true), (nil, true)] {
            let failure = LedgerEntry(
                kind: .outcome, requestID: "r-1", bodyHash: Self.hash, at: 0, status: .failed, error: .init(code: "chanjing_error", message: "earlier"),
                attempts: 1, requestOffset: requestOffset
            )
            let actions = Self.run(settings, [(.turnGranted, .zero), (.ledgerAnswered(.found(failure)), .zero)])
            if resubmitted {
                #expect(actions.last == .waitForCircuit(retried: nil), "\(String(describing: requestOffset))")
            } else if case .end(.outcome(let replayed), recordOutcome: false, _)? = actions.last {
                #expect(replayed.status == .failed && replayed.error?.code == .chanjingError && replayed.replayed)
            } else {
                Issue.record("expected the recorded failure, got \(String(describing: actions.last))")
            }
        }
    }

    @Test("an old request ends expired before any call, and its outcome is not recorded")
    func expired() {
        let settings = Lifecycle.Settings(ledger: true, retry: Self.retry, maxRequestAge: .seconds(60))
        let actions = Self.run(settings, timestamp: Self.start.date.addingTimeInterval(-61), [
            (.turnGranted, .zero), (.ledgerAnswered(.absent), .zero), (.circuitClosed(waited: false), .zero),
        ])
        guard case .end(.outcome(let outcome), recordOutcome: false, intentAt: nil) = actions.last else {
            Issue.record("expected an ending, got \(String(describing: actions.last))")
            return
        }
        #expect(outcome.error?.code == .expired)
    }
}
