import Chanjing
import Foundation

/// One pool member's view of who holds and who fetches the pool's access token, built from the
/// coordination topic's records in their order. Pure: it takes events and returns actions;
/// ``CoordinatedTokenSource`` reads the topic, appends records and calls Chanjing.
///
/// Which claim wins and which token counts depends only on the records and their order, never
/// on a member's clock, so every member that reads the topic reaches the same answer:
/// - The **current token** is the last one published for a winning claim.
/// - With no live claim, a claim **wins** when it names the current token as the one it
///   replaces (or names none, or the member knows no token). A claim naming an older token is
///   ignored: its owner finds the newer token when it reads on.
/// - A winning claim stays **live** until its token or its release. While it is live, only a
///   claim that **overrides** it wins. Clocks only decide when a member may append an override:
///   `claimLapse` after it read the live claim. The owner stops publishing `claimLapse` after it
///   appended its claim, which is earlier than anyone else's lapse.
/// - A token counts only for the live claim (or, for a member whose reading starts after the
///   claim, when no claim is live). So a token whose owner was overtaken counts nowhere.
public struct TokenCoordinationState: Sendable {
    public typealias Instant = ContinuousClock.Instant

    public struct Settings: Sendable {
        /// How long a winning claim's owner has to fetch and publish; keep it above the token
        /// endpoint's timeout.
        public var claimLapse: Duration
        /// How long before expiry the pool fetches the next token (at most a tenth of a lifetime).
        public var refreshMargin: TimeInterval
        /// Fresh tokens refused in a row before the member reports contention.
        public var contentionThreshold: Int
        /// A token still accepted this long after it was fetched ends contention: nobody fetched
        /// meanwhile. (Calls accepted in the short life of a token between two outside fetches
        /// do not.)
        public var contentionClears: TimeInterval
        /// Back-off before this member claims again after a failed fetch; doubles per failure.
        public var initialBackoff: Duration
        public var maxBackoff: Duration

        public init(
            claimLapse: Duration = .seconds(30),
            refreshMargin: TimeInterval = 300,
            contentionThreshold: Int = 3,
            contentionClears: TimeInterval = 10,
            initialBackoff: Duration = .seconds(1),
            maxBackoff: Duration = .seconds(60)
        ) {
            self.claimLapse = claimLapse
            self.refreshMargin = refreshMargin
            self.contentionThreshold = contentionThreshold
            self.contentionClears = contentionClears
            self.initialBackoff = initialBackoff
            self.maxBackoff = maxBackoff
        }
    }

    /// What a caller asking for a token gets.
    public enum Answer: Equatable, Sendable {
        case use(String)
        /// Ask again shortly: the member is catching up, or a token is being fetched.
        case wait
        case fail(ChanjingError)
    }

    /// What the driver does next.
    public enum Action: Equatable, Sendable {
        /// Append a claim.
        case appendClaim(ClaimID, replaces: String?, overrides: ClaimID?)
        /// This member's claim won: fetch a token and report it with ``fetched(_:_:now:wall:)``.
        case fetch(ClaimID)
        /// Seal and append the token fetched for this member's claim, giving up at `publishBy`.
        case appendToken(ClaimID, claimOffset: Int64, AccessToken, fetchedAt: Date, publishBy: Instant)
        /// Append a release: this member's fetch failed.
        case appendRelease(ClaimID, reason: String, credentialsRefused: Bool)
        /// Tell the operator, once, that fresh tokens keep being refused.
        case reportContention(refusedInARow: Int)
        /// Tell the operator that contention is over.
        case reportContentionOver
        /// Tell the operator that a token record cannot be opened with this member's key.
        case reportUnreadableToken(ClaimID)
    }

    /// The token the pool uses now, as this member knows it.
    public struct CurrentToken: Equatable, Sendable {
        public var value: String
        public var fingerprint: String
        public var expiresAt: Date
        public var refreshAt: Date
        public var fetchedAt: Date
        /// The claim it was fetched for (`member` is the member that fetched it).
        public var claim: ClaimID
    }

    private struct LiveClaim {
        var id: ClaimID
        var offset: Int64
        var readAt: Instant
    }

    public let member: String
    public let settings: Settings
    public private(set) var current: CurrentToken?
    /// Chanjing refused ``current`` (a 10400 answered with it).
    public private(set) var currentRefused = false
    /// Whether the member has read the topic up to where it stood at start-up.
    public private(set) var caughtUp = false
    /// Fresh tokens (refused before their refresh time) refused one after another, with no token
    /// accepted long after its fetch in between.
    public private(set) var freshRefusalsInARow = 0

    private var firstOffsetRead: Int64?
    private var live: LiveClaim?
    /// This member's appended claim, not yet read back.
    private var ownClaim: (id: ClaimID, sentAt: Instant)?
    /// This member's winning claim, being fetched and published until `publishBy`.
    private var fetching: (id: ClaimID, offset: Int64, publishBy: Instant)?
    private var claimsNotBefore: Instant?
    private var failedFetches = 0
    private var lastFailure: ChanjingError?
    private var claimsMade = 0
    private var contentionReported = false

    public init(member: String, settings: Settings = Settings()) {
        self.member = member
        self.settings = settings
    }

    /// Whether fresh tokens keep being refused: someone outside the pool fetches with its app ID.
    public var contended: Bool { freshRefusalsInARow >= settings.contentionThreshold }

    /// Whether a token is held that has not been refused and has not expired.
    public func hasUsableToken(wall: Date) -> Bool {
        current.map { !currentRefused && wall < $0.expiresAt } ?? false
    }

    // MARK: Events

    /// The member has read every record that was on the topic when it started.
    public mutating func markCaughtUp() {
        caughtUp = true
    }

    /// A record read from the topic at `offset`, in order. `opened` is a token record's value,
    /// opened by the driver with the member's key (nil when it cannot be opened).
    public mutating func read(_ record: CoordinationRecord, offset: Int64, opened: String? = nil, now: Instant) -> [Action] {
        if firstOffsetRead == nil { firstOffsetRead = offset }
        switch record {
        case .claim(let id, let replaces, let overrides):
            let replacesCurrent = current == nil || replaces == nil || replaces == current?.fingerprint
            let wins = replacesCurrent && overrides == live?.id
            if wins {
                if let fetching, fetching.id == overrides { self.fetching = nil }  // overtaken: its token will not count
                live = LiveClaim(id: id, offset: offset, readAt: now)
            }
            guard let own = ownClaim, own.id == id else { return [] }
            ownClaim = nil
            guard wins else { return [] }  // lost: a later `need` claims again if still needed
            fetching = (id, offset, own.sentAt + settings.claimLapse)
            return [.fetch(id)]

        case .token(let id, let claimOffset, let sealed):
            let counts = live.map { $0.id == id } ?? (claimOffset < (firstOffsetRead ?? offset))
            guard counts else { return [] }
            endLiveClaim()
            failedFetches = 0
            lastFailure = nil
            claimsNotBefore = nil
            guard let opened else { return [.reportUnreadableToken(id)] }
            let refreshAt = AccessToken(value: opened, expiresAt: sealed.expiresAt, fetchedAt: sealed.fetchedAt, refreshMargin: settings.refreshMargin).refreshAt
            current = CurrentToken(value: opened, fingerprint: sealed.fingerprint, expiresAt: sealed.expiresAt, refreshAt: refreshAt, fetchedAt: sealed.fetchedAt, claim: id)
            currentRefused = false
            return []

        case .release(let id, let reason, let credentialsRefused):
            guard live?.id == id else { return [] }
            endLiveClaim()
            failedFetches += 1
            lastFailure = credentialsRefused ? .credentialsRefused(reason) : .tokenUnavailable(reason)
            claimsNotBefore = now + min(settings.maxBackoff, settings.initialBackoff * (1 << min(failedFetches - 1, 16)))
            return []

        case .member:
            return []  // the roster's business, not the token's
        }
    }

    /// A caller needs a token to call Chanjing with.
    public mutating func need(now: Instant, wall: Date) -> (Answer, [Action]) {
        guard caughtUp else { return (.wait, []) }
        if let current, !currentRefused, wall < current.expiresAt {
            // Still good: use it, and have it replaced ahead of expiry (once for the pool).
            let refresh = wall >= current.refreshAt ? claimIfFree(now: now) : []
            return (.use(current.value), refresh)
        }
        let claims = claimIfFree(now: now)
        if currentRefused, contended {
            return (.fail(.credentialsRefused(Self.contentionMessage(freshRefusalsInARow))), claims)
        }
        if let lastFailure, live == nil, ownClaim == nil, fetching == nil {
            return (.fail(lastFailure), claims)
        }
        return (.wait, claims)
    }

    /// Chanjing answered 10400 to a call made with `value`.
    public mutating func refused(_ value: String, now: Instant, wall: Date) -> [Action] {
        // A token already replaced, or already known refused: nothing new.
        guard let current, current.value == value, !currentRefused else { return [] }
        currentRefused = true
        // Refused before the pool itself would replace it: someone else fetched with the app ID.
        freshRefusalsInARow = wall < current.refreshAt ? freshRefusalsInARow + 1 : 0
        if freshRefusalsInARow == 0 { contentionReported = false }
        var actions: [Action] = []
        if contended, !contentionReported {
            contentionReported = true
            actions.append(.reportContention(refusedInARow: freshRefusalsInARow))
        }
        return actions + claimIfFree(now: now)
    }

    /// Chanjing accepted a call made with `value`.
    public mutating func accepted(_ value: String, wall: Date) -> [Action] {
        guard freshRefusalsInARow > 0, let current, current.value == value,
            wall.timeIntervalSince(current.fetchedAt) >= settings.contentionClears
        else { return [] }
        freshRefusalsInARow = 0
        defer { contentionReported = false }
        return contentionReported ? [.reportContentionOver] : []
    }

    /// This member's claim could not be appended.
    public mutating func claimNotAppended(_ id: ClaimID) {
        if ownClaim?.id == id { ownClaim = nil }
    }

    /// The fetch for this member's winning claim ended.
    public mutating func fetched(_ id: ClaimID, _ result: Result<AccessToken, ChanjingError>, now: Instant, wall: Date) -> [Action] {
        guard let fetching, fetching.id == id else { return [] }
        switch result {
        case .success(let token):
            // Past the deadline another member may have overridden the claim; its token would
            // not count anyway.
            guard now < fetching.publishBy else {
                self.fetching = nil
                return []
            }
            return [.appendToken(id, claimOffset: fetching.offset, token, fetchedAt: wall, publishBy: fetching.publishBy)]
        case .failure(let error):
            self.fetching = nil
            let reason: String
            switch error {
            case .credentialsRefused(let detail), .tokenUnavailable(let detail): reason = detail
            default: reason = error.description
            }
            return [.appendRelease(id, reason: reason, credentialsRefused: error.disposition == .credentialsRefused)]
        }
    }

    /// The token fetched for this member's claim could not be published before its deadline.
    public mutating func tokenNotPublished(_ id: ClaimID) {
        if fetching?.id == id { fetching = nil }
    }

    // MARK: Rules

    private mutating func endLiveClaim() {
        if let fetching, fetching.id == live?.id { self.fetching = nil }
        live = nil
    }

    /// Appends a claim unless this member's own is on its way or being fetched, another live
    /// claim has not lapsed, or the back-off after a failed fetch has not passed.
    private mutating func claimIfFree(now: Instant) -> [Action] {
        if let own = ownClaim, now - own.sentAt > settings.claimLapse { ownClaim = nil }  // never read back
        guard ownClaim == nil, fetching == nil, claimsNotBefore.map({ now >= $0 }) ?? true else { return [] }
        if let live, now - live.readAt < settings.claimLapse { return [] }
        claimsMade += 1
        let id = ClaimID(member: member, number: claimsMade)
        ownClaim = (id, now)
        return [.appendClaim(id, replaces: current?.fingerprint, overrides: live?.id)]
    }

    static func contentionMessage(_ refused: Int) -> String {
        "Chanjing refused \(refused) fresh access tokens in a row: another process is fetching tokens with this pool's CHANJING_APP_ID, "
            + "and each fetch invalidates the previous token; dedicate the app ID to this pool"
    }
}
