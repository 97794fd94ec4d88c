import Foundation

/// The pool as the coordination topic shows it: each member's latest report and the latest
/// published token's holder and expiry (readable facts only: no key is needed). Built by every
/// member as it reads, and by `chanjing-worker pool`.
public struct PoolRoster: Sendable {
    /// A member and when it last reported (the record's Kafka timestamp).
    public struct Member: Sendable, Equatable {
        public var report: MemberReport
        public var reportedAt: Date
    }

    /// The latest token record: who fetched it, when it expires.
    public struct Token: Sendable, Equatable {
        public var fetchedBy: String
        public var fetchedAt: Date
        public var expiresAt: Date
    }

    public private(set) var members: [String: Member] = [:]
    public private(set) var latestToken: Token?

    public init() {}

    public mutating func read(_ record: CoordinationRecord, at timestamp: Date) {
        switch record {
        case .member(let report):
            members[report.member] = Member(report: report, reportedAt: timestamp)
        case .token(let id, _, let sealed):
            latestToken = Token(fetchedBy: id.member, fetchedAt: sealed.fetchedAt, expiresAt: sealed.expiresAt)
        case .claim, .release:
            break
        }
    }

    /// Members that reported within `window` before `now`, by name; older ones have left (or
    /// stopped reporting).
    public func live(now: Date, window: TimeInterval) -> [Member] {
        members.values.filter { now.timeIntervalSince($0.reportedAt) <= window }.sorted { $0.report.member < $1.report.member }
    }
}
