import Foundation

/// A submitted task still to be followed to its video: its `submitted` outcome carries a
/// ``LedgerEntry/Follow`` and no completion has been recorded for it since. The ledger is the
/// set of tasks being followed: the owner of a requests partition follows that partition's tasks.
public struct FollowedTask: Sendable, Equatable {
    public var partition: Int32
    public var requestID: String
    public var creationID: String
    /// When the request's outcome was written: its submit had been answered.
    public var submittedAt: Date
    public var follow: LedgerEntry.Follow

    public init(partition: Int32, requestID: String, creationID: String, submittedAt: Date, follow: LedgerEntry.Follow) {
        self.partition = partition
        self.requestID = requestID
        self.creationID = creationID
        self.submittedAt = submittedAt
        self.follow = follow
    }
}

/// A followed task as a partition's state holds it, with the offset of the record holding its
/// outcome (forgotten with it).
struct HeldFollow: Sendable {
    let requestID: String
    let creationID: String
    let at: Int64
    let follow: LedgerEntry.Follow
    let offset: Int64

    /// The task `entry` asks to follow, if it does.
    init?(_ entry: LedgerEntry, offset: Int64) {
        guard entry.kind == .outcome, entry.status == .submitted, entry.completion == nil, let follow = entry.follow, let creationID = entry.creationID
        else { return nil }
        (requestID, self.creationID, at, self.follow, self.offset) = (entry.requestID, creationID, entry.at, follow, offset)
    }

    func task(partition: Int32) -> FollowedTask {
        FollowedTask(partition: partition, requestID: requestID, creationID: creationID, submittedAt: LedgerEntry.date(at), follow: follow)
    }
}
