/// Where the client gets its `access_token` header from.
///
/// Chanjing invalidates an app's previous token whenever a new one is fetched, so sources fetch
/// only when a call needs a token, and every process sharing an app_id must share one source of
/// truth (a fixed token, or a file one refresher keeps fresh).
public protocol AccessTokenSource: Sendable {
    /// A token to call with; fetches one only when none is held or it is about to expire.
    func currentToken() async throws(ChanjingError) -> String

    /// Chanjing answered 10400 for `token`. The next ``currentToken()`` must not return it again.
    func tokenRejected(_ token: String) async

    /// Chanjing accepted a call made with `token`.
    func tokenAccepted(_ token: String) async

    /// Whether a token is held that Chanjing has not refused and that has not expired, answered
    /// without fetching (for metrics and alerts).
    var hasUsableToken: Bool { get async }
}

extension AccessTokenSource {
    public func tokenAccepted(_ token: String) async {}
}

/// Told about every token refresh, successful or not (for metrics).
public typealias TokenRefreshObserver = @Sendable (_ succeeded: Bool) -> Void
