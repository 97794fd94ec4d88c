import Chanjing
import Foundation
import Ledger
import VideoContract

/// The life of one request record, from decoded to committed or left for its redelivery, as a
/// pure state machine: ``RequestProcessor`` reports what happened (an ``Event``) and carries out
/// the ``Action`` it gets back. Every path a request can take is in this file; nothing here
/// waits, sends or reads a clock.
///
/// The rules it keeps (tested over every event order in `RequestLifecycleTests`):
/// - with the ledger on, every call to Chanjing follows an acknowledged intent at once (no wait
///   between them), and an intent acknowledged later than ``sendWithin`` after its time is
///   followed by another;
/// - with the ledger on, after a call that may have created a task nothing is sent again until
///   a search of Chanjing's task list found no such task; a search that could not run is retried,
///   never taken for "not found";
/// - a request commits only after its result (and, when it called Chanjing with the ledger on,
///   its outcome) is acknowledged; a request no longer wanted (its partition revoked, shutdown)
///   is left uncommitted for its redelivery.
struct RequestLifecycle: Sendable {
    /// How requests are handled; shared by every request's lifecycle (a reference: each request
    /// in flight holds its lifecycle across its waits, docs/benchmarks.md, scenario 5).
    final class Settings: Sendable {
        /// Whether the submission ledger is on (`--ledger`).
        let ledger: Bool
        let retry: RetryPolicy
        let reconcilePolicy: ReconcilePolicy
        /// How long after an intent a task it may have created can still appear.
        let reconcileDelay: Duration
        /// Requests older than this (by their Kafka timestamp) end `expired` instead of being sent.
        let maxRequestAge: Duration?

        init(
            ledger: Bool = false, retry: RetryPolicy, reconcilePolicy: ReconcilePolicy = .adoptOrResubmit,
            reconcileDelay: Duration = .seconds(20), maxRequestAge: Duration? = nil
        ) {
            self.ledger = ledger
            self.retry = retry
            self.reconcilePolicy = reconcilePolicy
            self.reconcileDelay = reconcileDelay
            self.maxRequestAge = maxRequestAge
        }

        /// These settings with the ledger on or off.
        func with(ledger: Bool) -> Settings {
            ledger == self.ledger
                ? self
                : Settings(ledger: ledger, retry: retry, reconcilePolicy: reconcilePolicy, reconcileDelay: reconcileDelay, maxRequestAge: maxRequestAge)
        }
    }

    /// How soon after its time an intent's call is sent at the latest: an acknowledgement slower
    /// than this is followed by another intent. The latest intent's time, plus this, plus the
    /// submit timeout, bounds when its call can land.
    static let sendWithin: Duration = .seconds(2)

    /// The moment an event happened: wall time for the ledger and the request's age, monotonic
    /// time for waits and the retry budget.
    struct Now: Sendable {
        var date: Date
        var instant: ContinuousClock.Instant

        static var current: Now { Now(date: Date(), instant: .now) }
    }

    /// How a request ends.
    enum Ending: Sendable, Equatable {
        /// It failed validation; `requestID` is its own or one made from its position.
        case rejected(RequestRejection, requestID: String)
        /// A valid request's outcome: submitted, answered from the ledger, or failed.
        case outcome(SubmissionOutcome)
    }

    /// Why a request sleeps.
    enum Pause: Sendable, Equatable {
        /// Before the next attempt after a failed one.
        case backOff(attempt: Int, ambiguous: Bool, error: ChanjingError)
        /// Until an earlier call of this request has landed or failed, before searching for its task.
        case earlierCallMayLand
        /// After a search of the task list that could not run.
        case searchFailed(failures: Int, error: ChanjingError)

        /// A wait of this request's own, which may be long and which the other requests need not
        /// share: the request gives its `--max-in-flight` slot to them meanwhile.
        var stepsAside: Bool {
            switch self {
            case .backOff: false
            case .earlierCallMayLand, .searchFailed: true
            }
        }
    }

    /// A retry counted against the request (``VideoResult/Retries``).
    enum Retry: Sendable, Equatable {
        case safe, ambiguous
    }

    /// What the driver does next.
    enum Action: Sendable, Equatable {
        /// Wait until the records before it with the same Kafka key (`--ordering key`) and the
        /// earlier copies of the same request (partition and `request_id`, with the ledger on)
        /// are done.
        case waitForTurn
        /// Ask the ledger for the request's latest entry.
        case lookUp
        /// Wait until `deadline` while the request is still wanted.
        case sleep(until: ContinuousClock.Instant, Pause)
        /// Search Chanjing's task list for a task an earlier submit created since `since`.
        case search(since: Date)
        /// Record in the ledger that the request adopted the task found; wait for the acknowledgement.
        case writeAdoption(creationID: String)
        /// Record in the ledger how the request ended without a call of this copy; wait for the
        /// acknowledgement.
        case writeOutcome(SubmissionOutcome, intentAt: Date?)
        /// Wait while the circuit is open. `retried`: the failure that led here counts as a retry.
        case waitForCircuit(retried: Retry?)
        /// Wait for the next call's slot of the rate limit.
        case waitForRateSlot
        /// Take the access token for the next call (waiting while a new one is fetched).
        case takeToken
        /// Record an intent in the ledger and wait for the acknowledgement. `firstIntentAt` is
        /// the time of the request's first intent, which every later one carries.
        case writeIntent(firstIntentAt: Date?)
        /// Send the submit with this token; the call is never cut short once sent.
        case call(token: String)
        /// Publish the result and wait for the acknowledgement; when `recordOutcome` is set, also
        /// record the outcome in the ledger (`intentAt` its first intent's time), both
        /// acknowledged before the request may commit.
        case end(Ending, recordOutcome: Bool, intentAt: Date?)
        /// Done: store the offset.
        case commit
        /// Done without a result: leave the offset for the redelivery.
        case leave
    }

    /// What happened since the last action.
    enum Event: Sendable {
        /// The records before it with the same key (`--ordering key`) and the earlier copies of
        /// the request (with the ledger on) are done.
        case turnGranted
        case ledgerAnswered(SubmissionLedger.Lookup)
        /// A sleep ended with the request still wanted.
        case woke
        /// A search answered: the creation ID of the task found, or nil.
        case searched(String?)
        /// A search could not run; nothing is known of the task.
        case searchFailed(ChanjingError)
        /// A ledger write (adoption or outcome) was acknowledged.
        case written
        /// The circuit let the request through; `waited` when it had been open.
        case circuitClosed(waited: Bool)
        case rateSlotGranted
        case tokenTaken(String)
        /// The intent written at `at` was acknowledged.
        case intentAcknowledged(at: Date)
        case submitted(SubmitTaskResponse)
        /// Taking a token or the call failed; `circuitOpen` is the circuit once told of it.
        case chanjingFailed(ChanjingError, circuitOpen: Bool)
        /// The result (and outcome) were acknowledged, or not (shutdown while publishing).
        case ended(published: Bool)
        /// The request's partition was revoked, or the worker is shutting down: whatever was
        /// being waited for, the request stays unfinished.
        case notWanted
    }

    private enum State {
        case received
        case waitingForTurn
        case lookingUp
        /// Sleeping before (or between) searches; then searching.
        case searchPending
        case searching
        case writingAdoption(creationID: String)
        case writingOutcome(SubmissionOutcome)
        case waitingForCircuit
        case waitingForRateSlot
        case takingToken
        case writingIntent(token: String, issued: ContinuousClock.Instant)
        case calling
        case backingOff
        case ending
        case done
    }

    /// Why the task list is searched, which decides what "not found" leads to.
    private enum SearchReason {
        /// The ledger holds an intent without an outcome (a worker stopped during the call).
        case unfinishedIntent(intentAt: Date)
        /// The ledger holds a failure that may have created a task.
        case earlierFailure
        /// This copy's call failed in a way that may have created a task.
        case ambiguousCall(ChanjingError)
    }

    private struct Search {
        let reason: SearchReason
        let since: Date
        var failures = 0
    }

    let settings: Settings
    private let requestID: String
    /// Set for a request that failed validation.
    private let rejection: RequestRejection?
    private let bodyHash: String
    /// The record's offset in its requests partition: an outcome recorded for this record
    /// answers it again, whatever it was.
    private let offset: Int64
    private let timestamp: Date?
    private var state = State.received
    private var search: Search?
    private var jitter: Jitter

    // The submit loop's counts.
    private var attempts = 0
    /// Attempts that never reached Chanjing with a token: they do not spend the attempt budget.
    private var tokenless = 0
    private var retries = VideoResult.Retries()
    private var started: ContinuousClock.Instant?
    private var firstIntentAt: Date?
    /// The circuit as the latest failure left it.
    private var circuitOpen = false

    /// `bodyHash` is the ledger hash of a valid request's submit body (`SameRequest.swift`); `offset`
    /// and `timestamp` the record's offset and Kafka timestamp; `seed` seeds the back-off jitter.
    init(_ decoded: DecodedRequest, bodyHash: String, offset: Int64, timestamp: Date?, settings: Settings, seed: UInt64 = .random(in: .min ... .max)) {
        self.requestID = decoded.requestID
        if case .invalid(let rejection, _) = decoded { self.rejection = rejection } else { rejection = nil }
        self.bodyHash = bodyHash
        self.offset = offset
        self.timestamp = timestamp
        self.settings = settings
        self.jitter = Jitter(seed: seed)
    }

    /// The first action: every record waits for its turn.
    mutating func start() -> Action {
        guard case .received = state else { preconditionFailure("a lifecycle starts once") }
        state = .waitingForTurn
        return .waitForTurn
    }

    /// The action that follows `event`.
    mutating func next(_ event: Event, at now: Now) -> Action {
        switch (state, event) {
        case (.done, _), (.received, _):
            preconditionFailure("no event is expected in \(state)")
        case (_, .notWanted):
            return leave()
        case (.waitingForTurn, .turnGranted):
            if let rejection { return end(.rejected(rejection, requestID: requestID)) }
            guard settings.ledger else { return beginSubmitting() }
            state = .lookingUp
            return .lookUp
        case (.lookingUp, .ledgerAnswered(let lookup)):
            return answered(lookup, at: now)
        case (.searchPending, .woke):
            state = .searching
            return .search(since: search!.since)
        case (.searching, .searched(let creationID?)):
            state = .writingAdoption(creationID: creationID)
            return .writeAdoption(creationID: creationID)
        case (.searching, .searched(nil)):
            return notFound(at: now)
        case (.searching, .searchFailed(let error)):
            search!.failures += 1
            let failures = search!.failures
            state = .searchPending
            return .sleep(until: now.instant + .seconds(min(30, 1 << min(failures - 1, 5))), .searchFailed(failures: failures, error: error))
        case (.writingAdoption(let creationID), .written):
            return adopted(creationID)
        case (.writingOutcome(let outcome), .written):
            return end(.outcome(outcome))
        case (.waitingForCircuit, .circuitClosed(let waited)):
            // Time spent waiting out an outage does not count against the retry budget.
            if waited || started == nil { started = now.instant }
            if let expired = expiry(at: now) { return end(.outcome(expired)) }
            state = .waitingForRateSlot
            return .waitForRateSlot
        case (.waitingForRateSlot, .rateSlotGranted):
            // The token is taken before the intent: waiting for one (while the pool agrees on a
            // new token) must not come between the intent and the call it bounds.
            state = .takingToken
            return .takeToken
        case (.takingToken, .tokenTaken(let token)):
            attempts += 1
            guard settings.ledger else {
                state = .calling
                return .call(token: token)
            }
            state = .writingIntent(token: token, issued: now.instant)
            return .writeIntent(firstIntentAt: firstIntentAt)
        case (.takingToken, .chanjingFailed(let error, let circuitOpen)):
            attempts += 1
            return failed(error, circuitOpen: circuitOpen, at: now)
        case (.writingIntent(let token, let issued), .intentAcknowledged(let at)):
            if firstIntentAt == nil { firstIntentAt = at }
            guard now.instant - issued <= Self.sendWithin else {
                state = .writingIntent(token: token, issued: now.instant)
                return .writeIntent(firstIntentAt: firstIntentAt)
            }
            state = .calling
            return .call(token: token)
        case (.calling, .submitted(let response)):
            return end(.outcome(SubmissionOutcome(
                status: .submitted, creationID: response.creationID, attempts: attempts, retries: retries, traceID: response.traceID
            )))
        case (.calling, .chanjingFailed(let error, let circuitOpen)):
            return failed(error, circuitOpen: circuitOpen, at: now)
        case (.backingOff, .woke):
            state = .waitingForCircuit
            return .waitForCircuit(retried: nil)
        case (.ending, .ended(let published)):
            return published ? done(.commit) : leave()
        default:
            preconditionFailure("event \(event) does not belong to \(state)")
        }
    }

    // MARK: - The ledger's answer

    private mutating func answered(_ lookup: SubmissionLedger.Lookup, at now: Now) -> Action {
        let record: LedgerEntry
        switch lookup {
        case .notAssigned: return leave()
        case .absent: return beginSubmitting()
        case .found(let found): record = found
        }
        guard record.bodyHash == bodyHash else {
            let detail = "request_id '\(requestID)' was already used for a request with different parameters"
            return end(.outcome(SubmissionOutcome(
                status: .rejected, error: .init(code: .requestIDConflict, message: detail, field: "request_id"), attempts: 0, retries: .init()
            )))
        }
        let replayed = SubmissionOutcome(replaying: record)
        switch (record.kind, replayed?.status) {
        case (.outcome, _?) where record.requestOffset == offset:
            // This very record, delivered again (its offset was not committed before a rebalance
            // or a crash): it gets the answer it already got. Only another record of the request
            // (`replay`) is a new attempt after a failure.
            return end(.outcome(replayed!))
        case (.outcome, .failed?):
            // A failure is not final: after an outage `replay` sends the request again. Only a
            // failure that may have created a task needs a search first.
            let mayHaveCreated = replayed?.error?.code == .retriesExhausted || replayed?.error?.code == .outcomeUnknown
            guard mayHaveCreated, settings.reconcilePolicy != .resubmit else { return beginSubmitting() }
            return beginSearch(.earlierFailure, since: record.intentDate, notBefore: now.date, at: now)
        case (.outcome, .submitted?) where record.completion == .failed:
            // Its task was followed and Chanjing could not render it: sent again (`replay
            // --completions`), it is a new attempt. The failed task made no video to pay twice for.
            return beginSubmitting()
        case (.outcome, _?):
            return end(.outcome(replayed!))
        default:
            // An intent without an outcome: a worker stopped during the call. Its latest call was
            // sent within `sendWithin` of the latest intent and has landed or failed once the
            // reconcile delay has passed; the first intent bounds the search. An outcome this
            // version cannot read (an error code a later version added) is taken for the intent
            // before it: searching first never pays twice.
            guard settings.reconcilePolicy != .resubmit else { return beginSubmitting() }
            let landedBy = record.date.addingTimeInterval((Self.sendWithin + settings.reconcileDelay) / .seconds(1))
            return beginSearch(.unfinishedIntent(intentAt: record.intentDate), since: record.intentDate, notBefore: landedBy, at: now)
        }
    }

    // MARK: - Searching Chanjing's task list

    private mutating func beginSearch(_ reason: SearchReason, since: Date, notBefore: Date, at now: Now) -> Action {
        search = Search(reason: reason, since: since)
        let wait = notBefore.timeIntervalSince(now.date)
        guard wait > 0 else {
            state = .searching
            return .search(since: since)
        }
        state = .searchPending
        return .sleep(until: now.instant + .milliseconds(Int64(wait * 1000)), .earlierCallMayLand)
    }

    private mutating func notFound(at now: Now) -> Action {
        let reason = search!.reason
        search = nil
        let givingUp = "an earlier submit may have created a task and none was found in Chanjing's task list (--reconcile-policy adopt-or-fail)"
        switch reason {
        case .unfinishedIntent(let intentAt):
            guard settings.reconcilePolicy == .adoptOrFail else { return beginSubmitting() }
            let outcome = SubmissionOutcome(status: .failed, error: .init(code: .outcomeUnknown, message: givingUp), attempts: 0, retries: .init())
            state = .writingOutcome(outcome)
            return .writeOutcome(outcome, intentAt: intentAt)
        case .earlierFailure:
            return beginSubmitting()
        case .ambiguousCall(let error):
            guard settings.reconcilePolicy == .adoptOrFail else { return backOff(after: error, at: now) }
            return end(.outcome(Self.ended(.failed, .outcomeUnknown, givingUp, error: error, attempts: attempts, retries: retries)))
        }
    }

    private mutating func adopted(_ creationID: String) -> Action {
        let reason = search!.reason
        search = nil
        switch reason {
        case .unfinishedIntent, .earlierFailure:
            let outcome = SubmissionOutcome(status: .submitted, creationID: creationID, attempts: 0, retries: .init(), reconciled: true)
            state = .writingOutcome(outcome)
            return .writeOutcome(outcome, intentAt: nil)
        case .ambiguousCall:
            retries.ambiguous += 1
            return end(.outcome(SubmissionOutcome(status: .submitted, creationID: creationID, attempts: attempts, retries: retries, reconciled: true)))
        }
    }

    // MARK: - Submitting

    private mutating func beginSubmitting() -> Action {
        state = .waitingForCircuit
        return .waitForCircuit(retried: nil)
    }

    /// After a failed attempt: final, or retried (after a search for a task it may have created),
    /// or waiting for the circuit.
    private mutating func failed(_ error: ChanjingError, circuitOpen: Bool, at now: Now) -> Action {
        self.circuitOpen = circuitOpen
        if error.isTokenless { tokenless += 1 }
        switch error.disposition {
        case .rejected:
            return end(.outcome(Self.ended(.rejected, .chanjingRejected, "Chanjing rejected the parameters: \(error)", error: error, attempts: attempts, retries: retries)))
        case .failed:
            return end(.outcome(Self.ended(.failed, .chanjingError, "\(error)", error: error, attempts: attempts, retries: retries)))
        case .credentialsRefused, .quotaExhausted:
            // Nothing was created and no request can get through until an operator acts: wait
            // for the circuit rather than fail the backlog.
            return waitForCircuit(retried: .safe)
        case .retryAmbiguous where settings.ledger && settings.reconcilePolicy != .resubmit:
            // A timeout after sending may still land: the search waits the reconcile delay first.
            // An answer (HTTP 5xx, 50000) means the call is over.
            var notBefore = now.date
            if case .transport(_, requestSent: true) = error { notBefore.addTimeInterval(settings.reconcileDelay / .seconds(1)) }
            return beginSearch(.ambiguousCall(error), since: firstIntentAt ?? now.date, notBefore: notBefore, at: now)
        case .refreshToken, .retrySafe, .retryAmbiguous:
            return backOff(after: error, at: now)
        }
    }

    /// The delay before the next attempt, or the end of the retry budget.
    private mutating func backOff(after error: ChanjingError, at now: Now) -> Action {
        let ambiguous = error.disposition == .retryAmbiguous
        if circuitOpen { return waitForCircuit(retried: ambiguous ? .ambiguous : .safe) }
        // A refused token is replaced at once; other failures back off.
        let draw = jitter.next()
        let delay = error.disposition == .refreshToken ? Duration.zero : settings.retry.backoff(afterAttempt: attempts, random: { draw })
        let elapsed = now.instant - (started ?? now.instant)
        guard attempts - tokenless < settings.retry.maxAttempts, elapsed + delay < settings.retry.maxElapsed else {
            let spent = elapsed.formatted(.units(allowed: [.seconds], fractionalPart: .show(length: 1)))
            return end(.outcome(Self.ended(.failed, .retriesExhausted, "gave up after \(attempts) attempts in \(spent); last error: \(error)", error: error, attempts: attempts, retries: retries)))
        }
        count(ambiguous ? .ambiguous : .safe)
        state = .backingOff
        return .sleep(until: now.instant + delay, .backOff(attempt: attempts, ambiguous: ambiguous, error: error))
    }

    private mutating func waitForCircuit(retried: Retry) -> Action {
        count(retried)
        state = .waitingForCircuit
        return .waitForCircuit(retried: retried)
    }

    private mutating func count(_ retry: Retry) {
        switch retry {
        case .safe: retries.safe += 1
        case .ambiguous: retries.ambiguous += 1
        }
    }

    /// The `expired` outcome when the request is older than `--max-request-age`.
    private func expiry(at now: Now) -> SubmissionOutcome? {
        guard let maxAge = settings.maxRequestAge, let timestamp else { return nil }
        let age = now.date.timeIntervalSince(timestamp)
        guard age > maxAge / .seconds(1) else { return nil }
        return SubmissionOutcome(
            status: .failed,
            error: .init(code: .expired, message: "the request is \(Int(age)) s old, over the \(maxAge) limit (--max-request-age); it was not submitted"),
            attempts: attempts,
            retries: retries
        )
    }

    private static func ended(
        _ status: VideoResult.Status, _ code: ResultErrorCode, _ message: String, error: ChanjingError, attempts: Int, retries: VideoResult.Retries
    ) -> SubmissionOutcome {
        SubmissionOutcome(
            status: status, error: .init(code: code, message: message, chanjingCode: error.chanjingCode), attempts: attempts, retries: retries, traceID: error.traceID
        )
    }

    // MARK: - Ending

    private mutating func end(_ ending: Ending) -> Action {
        state = .ending
        // With the ledger on, a request that called Chanjing records its outcome with its result.
        return .end(ending, recordOutcome: firstIntentAt != nil, intentAt: firstIntentAt)
    }

    private mutating func leave() -> Action {
        done(.leave)
    }

    private mutating func done(_ action: Action) -> Action {
        state = .done
        return action
    }
}

/// SplitMix64: back-off jitter in 0...1 from a seed, so that a lifecycle stays a pure value.
private struct Jitter {
    var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> Double {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        z ^= z >> 31
        return Double(z >> 11) / Double(1 << 53)
    }
}
