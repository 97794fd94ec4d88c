import Foundation
import Testing

@testable import Ledger

@Suite("The ledger's copy within its memory limit")
struct LedgerCompactionTests {
    static func intent(_ id: String) -> LedgerEntry {
        LedgerEntry(kind: .intent, requestID: id, bodyHash: "h", at: 1_790_000_000_000)
    }

    static func outcome(_ id: String, follow: Bool = false) -> LedgerEntry {
        LedgerEntry(
            kind: .outcome, requestID: id, bodyHash: "h", at: 1_790_000_000_000, status: .submitted, creationID: "task-\(id)", attempts: 1,
            follow: follow ? LedgerEntry.Follow(offset: 0, key: nil, headers: []) : nil
        )
    }

    /// Requests 0..<100, one record each, offsets 0..<100: 0 and 1 followed, 2 an intent only.
    static func state() -> SubmissionLedger.PartitionState {
        var state = SubmissionLedger.PartitionState()
        for index in 0..<100 {
            state.apply(index == 2 ? intent("r\(index)") : outcome("r\(index)", follow: index < 2), offset: Int64(index))
        }
        return state
    }

    @Test("compacting keeps the newest outcomes, followed tasks and intents in full, and the others' record offsets")
    func compactsOldestOutcomes() {
        var state = Self.state()
        #expect(state.compact(keeping: 40) == 57)
        #expect(state.requests.count == 43, "40 outcomes, 2 followed tasks and 1 intent")
        for index in [0, 1, 2] + Array(60..<100) {
            #expect(state.requests[RequestKey("r\(index)")] != nil, "r\(index) stays in full")
        }
        for index in 3..<60 {
            #expect(state.compacted[RequestKey("r\(index)")] == Int64(index), "r\(index) points to its record")
            #expect(state.claimed[HeldText("task-r\(index)")] == nil, "a compacted request's claim goes with it")
        }
        #expect(state.following.count == 2)
        #expect(state.compact(keeping: 40) == 0, "nothing more to compact")
    }

    @Test("a compacted request's older record is ignored and its newer one held in full; dropping takes the oldest; retention forgets compacted ones too")
    func compactedRequestsLater() {
        var state = Self.state()
        _ = state.compact(keeping: 40)
        state.apply(Self.intent("r10"), offset: 5)
        #expect(state.requests[RequestKey("r10")] == nil && state.compacted[RequestKey("r10")] == 10, "an older record does not shadow the compacted entry")
        state.apply(Self.intent("r11"), offset: 100)
        #expect(state.requests[RequestKey("r11")]?.offset == 100 && state.compacted[RequestKey("r11")] == nil)

        #expect(state.dropCompacted(keeping: 20) == 36)
        #expect(state.compacted.keys.contains(RequestKey("r59")) && !state.compacted.keys.contains(RequestKey("r39")))
        #expect(state.compacted.values.min() == 40)
        #expect(state.forget(below: 50) == 10 + 2 + 1, "ten compacted requests, two followed tasks and an intent are below the log start")
        #expect(state.compacted.count == 10)
    }

    @Test("a partition being read keeps within its share of the limit as its records are applied")
    func boundWhileLoading() {
        // 2,000 in full and 2,000 compacted at most, shared by two partitions.
        let limit = LedgerMemoryLimit(uncheckedBytes: 4_000 * LedgerMemoryLimit.fullEntryBytes)
        #expect(limit.fullEntries(followed: 0) == 2_000)
        var state = SubmissionLedger.PartitionState()
        var (compacted, dropped) = (0, 0)
        for part in 0..<20 {
            for index in part * 1_000..<(part + 1) * 1_000 {
                state.apply(Self.outcome("r\(index)"), offset: Int64(index))
            }
            let bounded = state.bound(within: limit, sharing: 2)
            (compacted, dropped) = (compacted + bounded.compacted, dropped + bounded.dropped)
            #expect(state.requests.count <= 1_000, "part \(part): \(state.requests.count) in full")
            #expect(state.compacted.count <= limit.compactedEntries / 2, "part \(part): \(state.compacted.count) compacted")
        }
        #expect(state.requests[RequestKey("r19999")] != nil, "the newest stay in full")
        #expect(state.compacted[RequestKey("r19000")] != nil || state.requests[RequestKey("r19000")] != nil)
        #expect(state.compacted[RequestKey("r0")] == nil && state.requests[RequestKey("r0")] == nil, "the oldest are dropped")
        #expect(compacted > 0 && dropped > 0 && state.requests.count + state.compacted.count + dropped == 20_000)
    }

    @Test("the limit's halves: requests in full less the followed tasks' extra (never below an eighth), and compacted ones")
    func limitArithmetic() throws {
        let limit = try #require(LedgerMemoryLimit(bytes: 256 << 20))
        #expect(limit == .standard)
        #expect(limit.fullEntries(followed: 0) == (128 << 20) / 500)
        #expect(limit.fullEntries(followed: 100_000) == ((128 << 20) - 100_000 * 600) / 500)
        #expect(limit.fullEntries(followed: 10_000_000) == (32 << 20) / 500)
        #expect(limit.compactedEntries == (128 << 20) / 72)
        #expect(LedgerMemoryLimit(bytes: (16 << 20) - 1) == nil)
        #expect(LedgerMemoryLimit.estimate(full: 2, followed: 1, compacted: 10) == 2 * 500 + 600 + 720)
    }
}
