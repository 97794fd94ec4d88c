import Logging

/// How the worker authenticates to Chanjing. Only ever read from the environment; its
/// description never shows a secret.
public enum ChanjingCredentials: Sendable, CustomStringConvertible {
    /// `CHANJING_APP_ID` and `CHANJING_SECRET_KEY`: tokens are fetched when needed.
    case app(appID: String, secretKey: String)
    /// `CHANJING_ACCESS_TOKEN`: a fixed token.
    case accessToken(String)
    /// `CHANJING_ACCESS_TOKEN_FILE`: a file another process keeps fresh; after a refused token,
    /// wait up to `replacementWait` for a new one there.
    case tokenFile(path: String, replacementWait: Duration = .seconds(90))

    /// The token source for these credentials; `onRefresh` hears of every token refresh.
    public func makeSource(client: ChanjingClient, logger: Logger, onRefresh: @escaping TokenRefreshObserver = { _ in }) -> any AccessTokenSource {
        switch self {
        case .app(let appID, let secretKey):
            CredentialsTokenSource(appID: appID, secretKey: secretKey, client: client, logger: logger, onRefresh: onRefresh)
        case .accessToken(let token):
            StaticTokenSource(token: token)
        case .tokenFile(let path, let replacementWait):
            FileTokenSource(path: path, replacementWait: replacementWait, onRefresh: onRefresh)
        }
    }

    public var description: String {
        switch self {
        case .app(let appID, _): "app credentials (app_id \(appID))"
        case .accessToken: "a fixed access token"
        case .tokenFile(let path, _): "the access token file \(path)"
        }
    }
}
