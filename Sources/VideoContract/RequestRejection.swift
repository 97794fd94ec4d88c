/// Why a request was refused before it reached Chanjing: a stable code, the field at fault when
/// there is one, and a message naming the rule.
public struct RequestRejection: Error, Sendable, Equatable {
    public var code: ResultErrorCode
    /// The field at fault, e.g. `video_duration` or `ref_img_url[1]`.
    public var field: String?
    public var message: String

    public init(code: ResultErrorCode, field: String? = nil, message: String) {
        self.code = code
        self.field = field
        self.message = message
    }
}

/// The outcome of decoding one request message.
public enum DecodedRequest: Sendable, Equatable {
    /// The request is valid and ready to submit.
    case valid(VideoRequest)
    /// The request is invalid. `requestID` is the caller's `request_id` when it could be read and
    /// was itself valid, else the fallback identifier.
    case invalid(RequestRejection, requestID: String)

    /// The identifier results for this request carry.
    public var requestID: String {
        switch self {
        case .valid(let request): request.requestID
        case .invalid(_, let requestID): requestID
        }
    }
}
