import Foundation
import Logging

/// Fetches tokens with the app's credentials (`CHANJING_APP_ID`, `CHANJING_SECRET_KEY`).
///
/// Nothing is fetched until a call needs a token; the token is refreshed ahead of expiry; and
/// concurrent callers share one in-flight fetch, because every fetch invalidates the previous
/// token of the app_id.
public actor CredentialsTokenSource: AccessTokenSource {
    private let appID: String
    private let secretKey: String
    private let client: ChanjingClient
    private let refreshMargin: TimeInterval
    private let now: @Sendable () -> Date
    private let logger: Logger
    private let onRefresh: TokenRefreshObserver
    private var token: AccessToken?
    private var fetch: Task<Result<AccessToken, ChanjingError>, Never>?
    /// Tokens fetched so far.
    public private(set) var fetchCount = 0

    /// - Parameters:
    ///   - client: the client whose HTTP connection pool and base URL to use.
    ///   - refreshMargin: refresh this long before expiry (less for short-lived tokens).
    public init(
        appID: String,
        secretKey: String,
        client: ChanjingClient,
        refreshMargin: TimeInterval = 300,
        now: @escaping @Sendable () -> Date = Date.init,
        logger: Logger,
        onRefresh: @escaping TokenRefreshObserver = { _ in }
    ) {
        self.onRefresh = onRefresh
        self.appID = appID
        self.secretKey = secretKey
        self.client = client
        self.refreshMargin = refreshMargin
        self.now = now
        self.logger = logger
    }

    public func currentToken() async throws(ChanjingError) -> String {
        if let token, now() < token.refreshAt { return token.value }
        let fetch: Task<Result<AccessToken, ChanjingError>, Never>
        if let inFlight = self.fetch {
            fetch = inFlight
        } else {
            fetch = Task { await self.fetchToken() }
            self.fetch = fetch
        }
        let result = await fetch.value
        if self.fetch == fetch { self.fetch = nil }
        switch result {
        case .success(let fresh):
            if token.map({ $0.expiresAt < fresh.expiresAt || $0.value != fresh.value }) ?? true { token = fresh }
            return fresh.value
        case .failure(let error):
            throw error
        }
    }

    public func tokenRejected(_ rejected: String) async {
        // Only drop the token that failed: a newer one may already have replaced it.
        if token?.value == rejected { token = nil }
    }

    public var hasUsableToken: Bool {
        token.map { now() < $0.expiresAt } ?? false
    }

    private func fetchToken() async -> Result<AccessToken, ChanjingError> {
        fetchCount += 1
        do throws(ChanjingError) {
            let token = try await client.fetchAccessToken(appID: appID, secretKey: secretKey, refreshMargin: refreshMargin, now: now)
            logger.info("Fetched a Chanjing access token", metadata: ["expires_at": "\(token.expiresAt)"])
            onRefresh(true)
            return .success(token)
        } catch {
            logger.warning("Cannot fetch a Chanjing access token: \(error)")
            onRefresh(false)
            return .failure(error)
        }
    }
}
