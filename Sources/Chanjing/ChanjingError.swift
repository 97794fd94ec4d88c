/// A failed Chanjing call, classified so the caller knows whether a task may have been created.
public enum ChanjingError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Chanjing answered with a non-zero `code`.
    case api(code: Int, message: String, traceID: String?)
    /// A non-2xx HTTP status without a usable Chanjing envelope.
    case httpStatus(Int)
    /// The server answered but the body was not the expected JSON envelope.
    case malformedResponse(String)
    /// The HTTP exchange failed. `requestSent` is false only when the failure happened before
    /// any byte of the request could have reached Chanjing (connection refused, connect timeout).
    case transport(String, requestSent: Bool)
    /// Chanjing refused the app credentials, or the configured access token was rejected and no
    /// replacement exists.
    case credentialsRefused(String)
    /// No access token could be obtained for now (token endpoint unreachable, token file missing).
    case tokenUnavailable(String)

    /// What a caller should do about this error.
    public enum Disposition: String, Sendable, Equatable {
        /// The request's parameters are invalid; retrying cannot help.
        case rejected
        /// The access token was refused: get a fresh one and retry (nothing was created).
        case refreshToken
        /// Transient, and nothing can have been created: retry after a back-off.
        case retrySafe
        /// Transient, but Chanjing may have created the task: retry only with care.
        case retryAmbiguous
        /// The account's quota or balance is exhausted: not retryable soon.
        case quotaExhausted
        /// The credentials themselves are refused.
        case credentialsRefused
        /// Any other failure; retrying is not expected to help.
        case failed
    }

    /// Phrases Chanjing uses for an exhausted balance (insufficient balance / credits).
    static let billingPhrases = ["扣费失败", "余额不足", "蝉豆不足", "蝉豆余额", "欠费"]

    public var disposition: Disposition {
        switch self {
        case .api(let code, let message, _):
            if code == 40002 || Self.billingPhrases.contains(where: message.contains) { return .quotaExhausted }
            switch code {
            case 400, 40000: return .rejected
            case 10400, 10401: return .refreshToken
            case 40001: return .retrySafe
            case 50000, 51000: return .retryAmbiguous
            default: return .failed
            }
        case .httpStatus(let status):
            switch status {
            case 429: return .retrySafe
            case 401: return .refreshToken
            case 408, 500...599: return .retryAmbiguous
            default: return .failed
            }
        case .malformedResponse: return .retryAmbiguous
        case .transport(_, let requestSent): return requestSent ? .retryAmbiguous : .retrySafe
        case .credentialsRefused: return .credentialsRefused
        case .tokenUnavailable: return .retrySafe
        }
    }

    /// True when no call reached Chanjing with a valid token: the token was refused (10400), or
    /// none could be had. Nothing was created, so such failures do not spend a request's attempts.
    public var isTokenless: Bool {
        if case .tokenUnavailable = self { return true }
        return disposition == .refreshToken
    }

    /// Chanjing's own code, when Chanjing answered with one.
    public var chanjingCode: Int? {
        if case .api(let code, _, _) = self { return code }
        return nil
    }

    /// Chanjing's trace id, when Chanjing answered with one.
    public var traceID: String? {
        if case .api(_, _, let traceID) = self { return traceID }
        return nil
    }

    /// A short label for metrics: Chanjing's code, or what went wrong before one was read.
    public var outcomeLabel: String {
        switch self {
        case .api(let code, _, _): "\(code)"
        case .httpStatus(let status): "http_\(status)"
        case .malformedResponse: "not_json"
        case .transport(_, let requestSent): requestSent ? "transport_after_sending" : "transport_before_sending"
        case .credentialsRefused: "credentials_refused"
        case .tokenUnavailable: "token_unavailable"
        }
    }

    public var description: String {
        switch self {
        case .api(let code, let message, _): "Chanjing answered code \(code): \(message)"
        case .httpStatus(let status): "Chanjing answered HTTP \(status)"
        case .malformedResponse(let detail): "Chanjing's answer was not understood: \(detail)"
        case .transport(let detail, let sent): "HTTP request \(sent ? "failed" : "could not be sent"): \(detail)"
        case .credentialsRefused(let detail): "credentials refused: \(detail)"
        case .tokenUnavailable(let detail): "no access token available: \(detail)"
        }
    }
}
