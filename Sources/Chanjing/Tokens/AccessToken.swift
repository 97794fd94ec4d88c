import Foundation

/// A token from `POST /open/v1/access_token`.
public struct AccessToken: Sendable, Equatable {
    public var value: String
    /// When Chanjing says it expires (`expire_in` is an absolute Unix time, not a duration).
    public var expiresAt: Date
    /// When to fetch the next one: ahead of expiry, so calls never race it.
    public var refreshAt: Date

    /// - Parameters:
    ///   - fetchedAt: when the token was received.
    ///   - refreshMargin: how long before expiry to refresh; for short-lived tokens at most a
    ///     tenth of the lifetime.
    public init(value: String, expiresAt: Date, fetchedAt: Date, refreshMargin: TimeInterval) {
        self.value = value
        self.expiresAt = expiresAt
        let lifetime = expiresAt.timeIntervalSince(fetchedAt)
        if lifetime <= 0 {
            // Expired on arrival by our clock (skew): use it, but look again soon.
            self.refreshAt = fetchedAt.addingTimeInterval(60)
        } else {
            self.refreshAt = expiresAt.addingTimeInterval(-min(refreshMargin, lifetime * 0.1))
        }
    }
}

/// `data` of the access token response.
struct AccessTokenPayload: Decodable {
    var accessToken: String
    var expireIn: Int64

    enum CodingKeys: String, CodingKey {
        case accessToken = "access_token"
        case expireIn = "expire_in"
    }
}

/// The access token request body. Never logged: it holds the secret key.
struct AccessTokenRequestBody: Encodable {
    var appID: String
    var secretKey: String

    enum CodingKeys: String, CodingKey {
        case appID = "app_id"
        case secretKey = "secret_key"
    }
}
