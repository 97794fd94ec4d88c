import Foundation

/// Names one claim to fetch the pool's next token: the claiming member and its own counter.
public struct ClaimID: Hashable, Sendable, CustomStringConvertible {
    public var member: String
    public var number: Int

    public init(member: String, number: Int) {
        self.member = member
        self.number = number
    }

    public var description: String { "\(member)#\(number)" }

    init?(_ text: String) {
        guard let hash = text.lastIndex(of: "#"), let number = Int(text[text.index(after: hash)...]) else { return nil }
        self.init(member: String(text[..<hash]), number: number)
    }
}

/// A record on the coordination topic. Its one partition orders them for every member alike,
/// which is all the agreement on who fetches needs (see ``TokenCoordinationState``).
public enum CoordinationRecord: Equatable, Sendable {
    /// A member asks to fetch the next token, to replace the token with fingerprint `replaces`
    /// (refused or due for refresh), or the first one when `replaces` is nil. `overrides` names
    /// the live claim it takes over from because that claim's owner published nothing in time.
    case claim(ClaimID, replaces: String?, overrides: ClaimID?)
    /// The owner of a winning claim publishes the token it fetched, sealed (``TokenSeal``);
    /// `claimOffset` is where the claim stands on the topic.
    case token(ClaimID, claimOffset: Int64, SealedToken)
    /// The owner of a winning claim could not fetch a token; the next claim may go ahead.
    /// `credentialsRefused` tells that Chanjing refused the app credentials themselves.
    case release(ClaimID, reason: String, credentialsRefused: Bool)
    /// A member's periodic report, so that members and operators see the whole pool.
    case member(MemberReport)

    /// The claim the record belongs to; nil for a member's report.
    public var claim: ClaimID? {
        switch self {
        case .claim(let id, _, _), .token(let id, _, _), .release(let id, _, _): id
        case .member: nil
        }
    }
}

/// What a member tells the pool about itself every few seconds.
public struct MemberReport: Equatable, Sendable {
    public var member: String
    /// Requests partitions it owns.
    public var partitions: Int
    /// Submit calls Chanjing accepted, and answered 40001, per second since its last report.
    public var acceptedPerSecond: Double
    public var throttledPerSecond: Double
    /// The rate its calls are paced at; nil when unlimited.
    public var paceLimit: Double?

    public init(member: String, partitions: Int, acceptedPerSecond: Double, throttledPerSecond: Double, paceLimit: Double?) {
        self.member = member
        self.partitions = partitions
        self.acceptedPerSecond = acceptedPerSecond
        self.throttledPerSecond = throttledPerSecond
        self.paceLimit = paceLimit
    }
}

/// A token as it travels on the coordination topic: readable facts plus the sealed value.
public struct SealedToken: Equatable, Sendable {
    /// A keyed fingerprint naming the token without revealing it (claims name tokens by it).
    public var fingerprint: String
    /// When Chanjing said it expires.
    public var expiresAt: Date
    /// When the fetching member received it; every member derives the same refresh time from it.
    public var fetchedAt: Date
    /// AES-GCM nonce, ciphertext and tag of the token's value.
    public var sealed: [UInt8]

    public init(fingerprint: String, expiresAt: Date, fetchedAt: Date, sealed: [UInt8]) {
        self.fingerprint = fingerprint
        self.expiresAt = expiresAt
        self.fetchedAt = fetchedAt
        self.sealed = sealed
    }
}

extension CoordinationRecord {
    /// The record as JSON, one object per Kafka record.
    public func encoded() -> [UInt8] {
        var wire = Wire(version: 1, type: "", claim: claim?.description)
        switch self {
        case .claim(_, let replaces, let overrides):
            wire.type = "claim"
            wire.replaces = replaces
            wire.overrides = overrides?.description
        case .token(_, let claimOffset, let token):
            wire.type = "token"
            wire.claimOffset = claimOffset
            wire.fingerprint = token.fingerprint
            wire.expiresAt = Int64(token.expiresAt.timeIntervalSince1970)
            wire.fetchedAtMs = Int64((token.fetchedAt.timeIntervalSince1970 * 1000).rounded())
            wire.sealed = Data(token.sealed).base64EncodedString()
        case .release(_, let reason, let credentialsRefused):
            wire.type = "release"
            wire.reason = reason
            wire.credentialsRefused = credentialsRefused
        case .member(let report):
            wire.type = "member"
            wire.member = report.member
            wire.partitions = report.partitions
            wire.acceptedPerSecond = report.acceptedPerSecond
            wire.throttledPerSecond = report.throttledPerSecond
            wire.paceLimit = report.paceLimit
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        return Array((try? encoder.encode(wire)) ?? Data())
    }

    /// Decodes a record; nil for anything this version does not understand (a newer member's
    /// record kinds are skipped, never misread).
    public static func decode(_ bytes: [UInt8]) -> CoordinationRecord? {
        guard let wire = try? JSONDecoder().decode(Wire.self, from: Data(bytes)), wire.version == 1 else { return nil }
        if wire.type == "member" {
            guard let member = wire.member, let partitions = wire.partitions, let accepted = wire.acceptedPerSecond,
                let throttled = wire.throttledPerSecond
            else { return nil }
            return .member(
                MemberReport(member: member, partitions: partitions, acceptedPerSecond: accepted, throttledPerSecond: throttled, paceLimit: wire.paceLimit)
            )
        }
        guard let claim = wire.claim.flatMap(ClaimID.init) else { return nil }
        switch wire.type {
        case "claim":
            let overrides = wire.overrides.flatMap(ClaimID.init)
            guard (wire.overrides == nil) == (overrides == nil) else { return nil }
            return .claim(claim, replaces: wire.replaces, overrides: overrides)
        case "token":
            guard let claimOffset = wire.claimOffset, let fingerprint = wire.fingerprint, let expiresAt = wire.expiresAt, let fetchedAtMs = wire.fetchedAtMs,
                let sealedText = wire.sealed, let sealed = Data(base64Encoded: sealedText)
            else { return nil }
            return .token(
                claim,
                claimOffset: claimOffset,
                SealedToken(
                    fingerprint: fingerprint,
                    expiresAt: Date(timeIntervalSince1970: TimeInterval(expiresAt)),
                    fetchedAt: Date(timeIntervalSince1970: TimeInterval(fetchedAtMs) / 1000),
                    sealed: Array(sealed)
                )
            )
        case "release":
            return .release(claim, reason: wire.reason ?? "", credentialsRefused: wire.credentialsRefused ?? false)
        default:
            return nil
        }
    }

    private struct Wire: Codable {
        var version: Int
        var type: String
        var claim: String?
        var replaces: String?
        var overrides: String?
        var claimOffset: Int64?
        var fingerprint: String?
        var expiresAt: Int64?
        var fetchedAtMs: Int64?
        var sealed: String?
        var reason: String?
        var credentialsRefused: Bool?
        var member: String?
        var partitions: Int?
        var acceptedPerSecond: Double?
        var throttledPerSecond: Double?
        var paceLimit: Double?

        enum CodingKeys: String, CodingKey {
            case version = "v"
            case type, claim, replaces, overrides, fingerprint, sealed, reason
            case claimOffset = "claim_offset"
            case expiresAt = "expires_at"
            case fetchedAtMs = "fetched_at_ms"
            case credentialsRefused = "credentials_refused"
            case member, partitions
            case acceptedPerSecond = "accepted_per_second"
            case throttledPerSecond = "throttled_per_second"
            case paceLimit = "pace_limit"
        }
    }
}
