import Synchronization

/// A fixed token (`CHANJING_ACCESS_TOKEN`). Once Chanjing refuses it there is no replacement,
/// and calls fail with ``ChanjingError/credentialsRefused(_:)``.
public final class StaticTokenSource: AccessTokenSource {
    private let token: String
    private let rejected = Mutex(false)

    public init(token: String) {
        self.token = token
    }

    public func currentToken() async throws(ChanjingError) -> String {
        guard !rejected.withLock({ $0 }) else {
            throw .credentialsRefused("Chanjing refused the access token given in CHANJING_ACCESS_TOKEN; provide a valid one")
        }
        return token
    }

    public var hasUsableToken: Bool { !rejected.withLock { $0 } }

    public func tokenRejected(_ token: String) async {
        if token == self.token { rejected.withLock { $0 = true } }
    }
}
