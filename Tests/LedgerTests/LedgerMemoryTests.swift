import Foundation
import Testing

@testable import Ledger

@Suite("The ledger's memory per request held")
struct LedgerMemoryTests {
    /// The process's resident memory, in bytes (/proc/self/statm). Tens of megabytes are held
    /// here, so pages and the other tests' small allocations do not blur the figure.
    private static func resident() throws -> Int {
        let statm = try String(contentsOfFile: "/proc/self/statm", encoding: .utf8).split(separator: " ")
        return Int(statm[1])! * Int(sysconf(Int32(_SC_PAGESIZE)))
    }

    /// `count` random lowercase hex digits, like Chanjing's `trace_id`.
    private static func hex(_ count: Int) -> String {
        String((0..<count).map { _ in "0123456789abcdef".randomElement()! })
    }

    /// Requests held for as long as retention keeps them are the bulk of a long-running worker's
    /// memory (README: How long it remembers). 100,000 requests is where the ledger's
    /// dictionaries have just doubled and are least full: about 445 bytes a request here, about
    /// 306 at 95,000. Before the compact form (request keys, Chanjing's IDs in 16 bytes) it was
    /// 782 and 647.
    @Test("a request with an intent and an outcome, as a worker holds it, takes under 500 bytes at the dictionaries' emptiest")
    func bytesPerRequest() throws {
        let count = 100_000
        let before = try Self.resident()
        let state = Self.held(count)
        let perRequest = Double(try Self.resident() - before) / Double(count)
        print("ledger memory: \(Int(perRequest)) bytes per request held (\(count) requests)")
        #expect(state.requests.count == count)
        #expect(perRequest < 500, "\(perRequest) bytes per request held")
    }

    /// A task being followed is held with what its completion needs (request ID, creation ID,
    /// key, headers) until it ends: 20,000 renders at once in benchmark scenario 7.
    @Test("a task followed to its video takes under 1 KiB more than its request alone")
    func bytesPerFollowedTask() throws {
        let count = 100_000
        let follow = LedgerEntry.Follow(
            offset: 0, key: Array("customer-42/order-1234567".utf8),
            headers: [.init(name: "traceparent", text: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")]
        )
        let plainBefore = try Self.resident()
        let plain = Self.held(count)
        let plainBytes = try Self.resident() - plainBefore
        let followedBefore = try Self.resident()
        let followed = Self.held(count, follow: follow)
        let perTask = Double(try Self.resident() - followedBefore - plainBytes) / Double(count)
        print("ledger memory: \(Int(perTask)) bytes more per task followed (\(count) tasks)")
        #expect(plain.following.isEmpty && followed.following.count == count)
        #expect(perTask < 1024, "\(perTask) bytes more per task followed")
    }

    /// Past half of `--ledger-memory`, the oldest requests keep only their key and offset
    /// (``LedgerMemoryLimit``). Their dictionary's storage is computed, not read from the
    /// resident size: glibc serves it from pages earlier tests freed. Swift's dictionaries keep a
    /// power of two of buckets (key, value and a bit each), at most three quarters full.
    @Test("a compacted request takes at most the limit's 72 bytes, at the dictionary's emptiest")
    func bytesPerCompactedRequest() {
        var compacted: [RequestKey: Int64] = [:]
        var emptiest = 0.0
        for index in 0..<300_000 {
            let capacity = compacted.capacity
            compacted[RequestKey("request-\(index)")] = Int64(index)
            guard compacted.capacity != capacity, index > 1_000 else { continue }
            // Just grown: the least full it gets.
            let buckets = 1 << Int(log2(Double(compacted.capacity) / 0.75).rounded(.up))
            let bytes = Double(buckets * (MemoryLayout<RequestKey>.stride + MemoryLayout<Int64>.stride)) + Double(buckets) / 8
            emptiest = max(emptiest, bytes / Double(compacted.count))
        }
        print("ledger memory: \(Int(emptiest.rounded(.up))) bytes per compacted request, at the dictionary's emptiest")
        #expect(emptiest > 0 && emptiest <= Double(LedgerMemoryLimit.compactedEntryBytes), "\(emptiest) bytes per compacted request")
    }

    /// A partition's state holding `count` requests, each with an intent and a `submitted`
    /// outcome (with `follow`, when given). Each entry is made, applied and dropped in turn, as
    /// records are read or acknowledged: what stays is what the ledger keeps.
    private static func held(_ count: Int, follow: LedgerEntry.Follow? = nil) -> SubmissionLedger.PartitionState {
        var state = SubmissionLedger.PartitionState()
        for index in 0..<count {
            let requestID = UUID().uuidString.lowercased()
            let intent = LedgerEntry(kind: .intent, requestID: requestID, bodyHash: LedgerEntry.hashText(UInt64.random(in: 1...UInt64.max)), at: 1_790_000_000_000 + Int64(index))
            state.apply(intent, offset: Int64(2 * index))
            var outcome = intent
            outcome.kind = .outcome
            outcome.status = .submitted
            outcome.creationID = UUID().uuidString.lowercased()
            outcome.chanjingTraceID = Self.hex(32)
            outcome.attempts = 1
            outcome.retries = .init()
            outcome.intentAt = intent.at
            outcome.follow = follow.map { LedgerEntry.Follow(offset: Int64(index), key: $0.key, headers: $0.headers) }
            state.apply(outcome, offset: Int64(2 * index + 1))
        }
        return state
    }
}
