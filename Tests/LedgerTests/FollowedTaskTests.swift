import Foundation
import Kafka
import Testing

@testable import Ledger

/// The ledger as the set of tasks being followed: a `submitted` outcome with a follow is in it
/// until an outcome with its completion comes after it.
@Suite("The ledger holds the tasks being followed")
struct FollowedTaskTests {
    static let follow = LedgerEntry.Follow(offset: 41, key: Array("k".utf8), headers: [KafkaHeader(name: "traceparent", text: "00-1-2-01")])

    static func submitted(_ id: String, follow: LedgerEntry.Follow? = follow, completion: LedgerEntry.Completion? = nil) -> LedgerEntry {
        LedgerEntry(
            kind: .outcome, requestID: id, bodyHash: "1f", at: 1_764_100_000_000, status: .submitted, creationID: "task-\(id)", attempts: 1,
            follow: follow, completion: completion
        )
    }

    static func followed(_ state: SubmissionLedger.PartitionState) -> Set<String> {
        Set(state.following.values.map { $0.task(partition: 0).requestID })
    }

    @Test("submitted outcomes with a follow are followed; others, and completed ones, are not")
    func followedSet() {
        var state = SubmissionLedger.PartitionState()
        state.apply(Self.submitted("a"), offset: 1)
        state.apply(Self.submitted("b", follow: nil), offset: 2)  // written with tracking off, or by an earlier version
        state.apply(LedgerEntry(kind: .outcome, requestID: "c", bodyHash: "1f", at: 0, status: .failed), offset: 3)
        state.apply(Self.submitted("d"), offset: 4)
        #expect(Self.followed(state) == ["a", "d"])
        let task = state.following[RequestKey("a")]!.task(partition: 2)
        #expect(task == FollowedTask(partition: 2, requestID: "a", creationID: "task-a", submittedAt: LedgerEntry.date(1_764_100_000_000), follow: Self.follow))

        state.apply(Self.submitted("a", follow: nil, completion: .succeeded), offset: 5)
        #expect(Self.followed(state) == ["d"])
        // Read out of order (a partition assigned back): the older outcome does not bring it back.
        state.apply(Self.submitted("a"), offset: 1)
        #expect(Self.followed(state) == ["d"])
        // The completed outcome still answers a redelivered request.
        #expect(state.requests[RequestKey("a")]?.entry(requestID: "a").creationID == "task-a")
    }

    @Test("followed tasks whose records retention deleted are forgotten with them")
    func forgotten() {
        var state = SubmissionLedger.PartitionState()
        state.apply(Self.submitted("a"), offset: 1)
        state.apply(Self.submitted("b"), offset: 9)
        _ = state.forget(below: 5)
        #expect(Self.followed(state) == ["b"])
    }
}
