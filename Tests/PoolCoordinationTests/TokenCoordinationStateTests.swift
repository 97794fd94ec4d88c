import Chanjing
import Foundation
import PoolCoordination
import Testing
import TestSupport

/// The agreement on who fetches, played on the pure state: members share one ordered log and
/// read it at their own pace, as they share the coordination topic's one partition.
@Suite("Token coordination state")
struct TokenCoordinationStateTests {
    typealias Action = TokenCoordinationState.Action
    static let lapse = Duration.seconds(30)

    /// A pool: a shared log, members reading it, and a Chanjing whose newest token is the only valid one.
    struct Pool {
        var log: [CoordinationRecord] = []
        var members: [String: TokenCoordinationState] = [:]
        var readUpTo: [String: Int] = [:]
        /// Fetches asked for by the state, not yet answered.
        var fetchesDue: [String: ClaimID] = [:]
        var tokensFetched: [String] = []
        var now = ContinuousClock.now
        var wall = Date(timeIntervalSince1970: 1_800_000_000)

        mutating func join(_ name: String, fromOffset offset: Int = 0, memberID: String? = nil) {
            members[name] = TokenCoordinationState(member: memberID ?? name, settings: .init(claimLapse: TokenCoordinationStateTests.lapse, refreshMargin: 300))
            readUpTo[name] = offset
        }

        /// The member reads every record appended so far.
        mutating func catchUp(_ name: String) {
            while readUpTo[name]! < log.count { readNext(name) }
            members[name]!.markCaughtUp()
        }

        /// `names` join an empty topic and catch up; `fetcher` claims the first token, fetches and
        /// publishes it, and everyone reads it.
        mutating func start(_ names: [String], firstTokenBy fetcher: String) {
            for name in names { join(name); catchUp(name) }
            _ = need(fetcher)
            for name in names { catchUp(name) }
            completeFetch(fetcher)
            for name in names { catchUp(name) }
        }

        mutating func readNext(_ name: String) {
            let offset = readUpTo[name]!
            let record = log[offset]
            readUpTo[name] = offset + 1
            var opened: String?
            if case .token(_, _, let sealed) = record { opened = String(sealed.fingerprint.dropFirst(3)) }
            perform(name, members[name]!.read(record, offset: Int64(offset), opened: opened, now: now))
        }

        mutating func need(_ name: String) -> TokenCoordinationState.Answer {
            let (answer, actions) = members[name]!.need(now: now, wall: wall)
            perform(name, actions)
            return answer
        }

        mutating func refused(_ name: String, _ value: String) {
            perform(name, members[name]!.refused(value, now: now, wall: wall))
        }

        /// Chanjing answers the member's due fetch (the new token invalidates every older one).
        mutating func completeFetch(_ name: String) {
            guard let id = fetchesDue.removeValue(forKey: name) else { return }
            let value = "tok\(tokensFetched.count + 1)"
            tokensFetched.append(value)
            let token = AccessToken(value: value, expiresAt: wall + 3600, fetchedAt: wall, refreshMargin: 300)
            perform(name, members[name]!.fetched(id, .success(token), now: now, wall: wall))
        }

        mutating func perform(_ name: String, _ actions: [Action]) {
            for action in actions {
                switch action {
                case .appendClaim(let id, let replaces, let overrides):
                    log.append(.claim(id, replaces: replaces, overrides: overrides))
                case .fetch(let id):
                    fetchesDue[name] = id
                case .appendToken(let id, let claimOffset, let token, let fetchedAt, _):
                    let sealed = SealedToken(fingerprint: "fp-\(token.value)", expiresAt: token.expiresAt, fetchedAt: fetchedAt, sealed: [])
                    log.append(.token(id, claimOffset: claimOffset, sealed))
                case .appendRelease(let id, let reason, let refused):
                    log.append(.release(id, reason: reason, credentialsRefused: refused))
                case .reportContention, .reportContentionOver, .reportUnreadableToken:
                    break
                }
            }
        }

        var validToken: String? { tokensFetched.last }
        func current(_ name: String) -> String? { members[name]!.current?.value }
    }

    @Test("two members claiming at once: the first claim in the log wins, one token is fetched, both use it")
    func simultaneousClaims() {
        var pool = Pool()
        pool.join("a")
        pool.join("b")
        pool.catchUp("a")
        pool.catchUp("b")
        #expect(pool.need("a") == .wait)
        #expect(pool.need("b") == .wait)
        #expect(pool.log.count == 2)  // both claimed before reading either claim
        pool.catchUp("b")
        pool.catchUp("a")
        #expect(pool.fetchesDue.keys.sorted() == ["a"])
        pool.completeFetch("a")
        pool.catchUp("a")
        pool.catchUp("b")
        #expect(pool.need("a") == .use("tok1"))
        #expect(pool.need("b") == .use("tok1"))
        #expect(pool.tokensFetched == ["tok1"])
    }

    @Test("the winner killed between fetch and publish: after the lapse another member overrides its claim, and a late token from the dead claim counts nowhere")
    func winnerDiesBeforePublishing() {
        var pool = Pool()
        for name in ["a", "b", "c"] { pool.join(name); pool.catchUp(name) }
        _ = pool.need("a")
        for name in ["a", "b", "c"] { pool.catchUp(name) }
        let deadClaim = pool.fetchesDue.removeValue(forKey: "a")!  // a dies mid-fetch
        pool.tokensFetched.append("tok-dead")  // its fetch reached Chanjing
        #expect(pool.need("b") == .wait)
        #expect(pool.log.count == 1)  // nobody claims while a's claim is live
        pool.now += Self.lapse + .seconds(1)
        #expect(pool.need("b") == .wait)
        #expect(pool.log.count == 2)
        #expect(pool.log[1] == .claim(ClaimID(member: "b", number: 1), replaces: nil, overrides: deadClaim))
        for name in ["b", "c"] { pool.catchUp(name) }
        pool.completeFetch("b")
        // The dead claim's token lands after the override (its produce was in flight).
        pool.log.append(.token(deadClaim, claimOffset: 0, SealedToken(fingerprint: "fp-tok-dead", expiresAt: pool.wall + 3600, fetchedAt: pool.wall, sealed: [])))
        for name in ["b", "c"] { pool.catchUp(name) }
        #expect(pool.current("b") == "tok2")
        #expect(pool.current("c") == "tok2")
        #expect(pool.validToken == "tok2")
    }

    @Test("a member joining mid-lifetime takes the published token and fetches nothing")
    func joinerTakesPublishedToken() {
        var pool = Pool()
        pool.start(["a"], firstTokenBy: "a")
        pool.join("late")
        pool.catchUp("late")
        let logBefore = pool.log.count
        #expect(pool.need("late") == .use("tok1"))
        #expect(pool.log.count == logBefore)
        #expect(pool.tokensFetched.count == 1)
    }

    @Test("a member whose reading starts after retention removed the claim still takes the token")
    func joinerAfterRetention() {
        var pool = Pool()
        pool.start(["a"], firstTokenBy: "a")
        pool.join("late", fromOffset: 1)  // the claim at offset 0 is gone
        pool.catchUp("late")
        #expect(pool.need("late") == .use("tok1"))
    }

    @Test("a token refused while a newer one is already published: nothing is claimed")
    func refusedAfterReplacement() {
        var pool = Pool()
        pool.start(["a", "b"], firstTokenBy: "a")
        pool.refused("a", "tok1")  // a learns tok1 is refused (say, it expired early)
        for name in ["a", "b"] { pool.catchUp(name) }
        pool.completeFetch("a")
        pool.catchUp("a")
        #expect(pool.need("a") == .use("tok2"))
        // b's call made with tok1 is answered 10400 only now, after b read tok2.
        pool.catchUp("b")
        let logBefore = pool.log.count
        pool.refused("b", "tok1")
        #expect(pool.log.count == logBefore)
        #expect(pool.need("b") == .use("tok2"))
        #expect(pool.tokensFetched == ["tok1", "tok2"])
    }

    @Test("a refused claim names the refused token; stale claims naming an older token lose")
    func staleClaimLoses() {
        var pool = Pool()
        pool.start(["a", "b"], firstTokenBy: "a")
        pool.refused("a", "tok1")
        pool.refused("b", "tok1")  // both claim to replace tok1: the first wins
        for name in ["a", "b"] { pool.catchUp(name) }
        #expect(pool.fetchesDue.count == 1)
        let winner = pool.fetchesDue.keys.first!
        pool.completeFetch(winner)
        for name in ["a", "b"] { pool.catchUp(name) }
        // A claim still naming tok1 arrives now: it must not win over tok2.
        pool.log.append(.claim(ClaimID(member: "x", number: 1), replaces: "fp-tok1", overrides: nil))
        pool.join("c")
        for name in ["a", "b", "c"] { pool.catchUp(name) }
        #expect(pool.fetchesDue.isEmpty)
        #expect(pool.need("c") == .use("tok2"))
    }

    @Test("refresh ahead of expiry is claimed once for the pool, and the old token is used meanwhile")
    func refreshOnce() {
        var pool = Pool()
        pool.start(["a", "b", "c"], firstTokenBy: "a")
        pool.wall += 3600 - 200  // past the refresh time, before expiry
        #expect(pool.need("b") == .use("tok1"))
        pool.catchUp("c")
        #expect(pool.need("c") == .use("tok1"))
        #expect(pool.need("a") == .use("tok1"))
        for name in ["a", "b", "c"] { pool.catchUp(name) }
        #expect(pool.fetchesDue.keys.sorted() == ["b"])
        pool.completeFetch("b")
        for name in ["a", "b", "c"] { pool.catchUp(name) }
        for name in ["a", "b", "c"] { #expect(pool.need(name) == .use("tok2")) }
        #expect(pool.tokensFetched.count == 2)
    }

    @Test("a failed fetch is released: members fail fast with its error and claim again only after a back-off")
    func releaseAndBackoff() {
        var pool = Pool()
        for name in ["a", "b"] { pool.join(name); pool.catchUp(name) }
        _ = pool.need("a")
        for name in ["a", "b"] { pool.catchUp(name) }
        let id = pool.fetchesDue.removeValue(forKey: "a")!
        pool.perform("a", pool.members["a"]!.fetched(id, .failure(.credentialsRefused("code 40000")), now: pool.now, wall: pool.wall))
        for name in ["a", "b"] { pool.catchUp(name) }
        // Every member backs off after a release: no claim, the error at once.
        #expect(pool.need("b") == .fail(.credentialsRefused("code 40000")))
        #expect(pool.log.count == 2)
        pool.now += .seconds(1)
        _ = pool.need("b")
        pool.catchUp("b")
        #expect(pool.fetchesDue.keys.sorted() == ["b"])
        let again = pool.fetchesDue.removeValue(forKey: "b")!
        pool.perform("b", pool.members["b"]!.fetched(again, .failure(.tokenUnavailable("down")), now: pool.now, wall: pool.wall))
        pool.catchUp("b")
        let logBefore = pool.log.count
        pool.now += .seconds(1)
        #expect(pool.need("b") == .fail(.tokenUnavailable("down")))
        #expect(pool.log.count == logBefore)  // the back-off doubled: 2 s now
        pool.now += .seconds(1)
        _ = pool.need("b")
        #expect(pool.log.count == logBefore + 1)
    }

    @Test("fresh tokens refused again and again: contention fails calls (the circuit opens) until a call is accepted")
    func contention() {
        var pool = Pool()
        pool.join("a")
        pool.catchUp("a")
        var reported = 0
        for round in 1...3 {
            _ = pool.need("a")
            pool.catchUp("a")
            pool.completeFetch("a")
            pool.catchUp("a")
            #expect(pool.need("a") == .use("tok\(round)"))
            let actions = pool.members["a"]!.refused("tok\(round)", now: pool.now, wall: pool.wall)
            reported += actions.filter { if case .reportContention = $0 { true } else { false } }.count
            pool.perform("a", actions)
            pool.now += .seconds(2)
        }
        #expect(reported == 1)
        #expect(pool.members["a"]!.contended)
        guard case .fail(.credentialsRefused(let message)) = pool.need("a") else {
            Issue.record("contention must fail calls so that the circuit opens")
            return
        }
        #expect(message.contains("another process is fetching tokens"))
        // The probe gets a fresh token, and Chanjing accepts it: contention is over.
        pool.catchUp("a")
        pool.completeFetch("a")
        pool.catchUp("a")
        #expect(pool.need("a") == .use("tok4"))
        // Calls accepted in a fresh token's first seconds do not end contention (the outside
        // fetcher may simply not have fetched yet); one accepted later does.
        #expect(pool.members["a"]!.accepted("tok4", wall: pool.wall + 1) == [])
        #expect(pool.members["a"]!.contended)
        #expect(pool.members["a"]!.accepted("tok4", wall: pool.wall + 11) == [.reportContentionOver])
        #expect(!pool.members["a"]!.contended)
    }

    @Test("random interleavings: members that read the same records agree, and the pool converges on Chanjing's valid token", arguments: 1...40)
    func randomInterleavings(seed: UInt64) {
        var random = SeededGenerator(seed: seed)
        var pool = Pool()
        let names = ["a", "b", "c", "d"]
        for name in names { pool.join(name); pool.catchUp(name) }
        var restarts = 0
        for _ in 0..<400 {
            let name = names[Int(random.next() % UInt64(names.count))]
            switch random.next() % 8 {
            case 0, 1:
                if pool.readUpTo[name]! < pool.log.count { pool.readNext(name) }
            case 2:
                _ = pool.need(name)
            case 3:
                if let value = pool.current(name) { pool.refused(name, value) }
            case 4:
                pool.completeFetch(name)
            case 5:
                // SIGKILL and restart: a due fetch may already have reached Chanjing.
                if pool.fetchesDue.removeValue(forKey: name) != nil, random.next() % 2 == 0 {
                    pool.tokensFetched.append("lost\(pool.tokensFetched.count)")
                }
                restarts += 1
                pool.join(name, memberID: "\(name)-\(restarts)")
                pool.catchUp(name)
            case 6:
                pool.now += .seconds(Int64(random.next() % 20))
            default:
                pool.wall += TimeInterval(random.next() % 600)
            }
            // Members that have read the same records hold the same view.
            let byPosition = Dictionary(grouping: names) { pool.readUpTo[$0]! }
            for (_, group) in byPosition where group.count > 1 {
                let views = Set(group.map { pool.members[$0]!.current?.value ?? "-" })
                #expect(views.count == 1, "seed \(seed): members at one position disagree: \(views)")
            }
        }
        // Quiesce: no more restarts; Chanjing refuses every token but its newest, and the pool
        // settles on that one.
        for _ in 0..<20 {
            pool.now += Self.lapse + .seconds(1)
            for name in names {
                pool.catchUp(name)
                if let value = pool.current(name), value != pool.validToken { pool.refused(name, value) }
                if case .use(let value) = pool.need(name), value == pool.validToken { _ = pool.members[name]!.accepted(value, wall: pool.wall) }
                pool.catchUp(name)
                pool.completeFetch(name)
            }
            for name in names { pool.catchUp(name) }
            if names.allSatisfy({ pool.need($0) == .use(pool.validToken ?? "none") }) { break }
        }
        for name in names {
            #expect(pool.need(name) == .use(pool.validToken ?? "none"), "seed \(seed): \(name) does not use Chanjing's valid token")
        }
    }
}
