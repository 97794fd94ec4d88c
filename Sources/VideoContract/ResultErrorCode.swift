/// The stable list of `error.code` values a result can carry. Consumers of the results topic may
/// switch on these; new codes are only ever added.
public enum ResultErrorCode: String, Sendable, Codable, CaseIterable {
    /// The message is not UTF-8 or not valid JSON.
    case invalidJSON = "invalid_json"
    /// The message is JSON but not an object.
    case notAnObject = "not_an_object"
    /// The message is larger than the configured limit.
    case tooLarge = "too_large"
    /// Arrays or objects nest deeper than the limit.
    case tooDeep = "too_deep"
    /// A field the contract does not define.
    case unknownField = "unknown_field"
    /// A required field is absent or null.
    case missingField = "missing_field"
    /// A field has the wrong type or a value outside its rule.
    case invalidField = "invalid_field"
    /// Chanjing refused the parameters (400 or 40000).
    case chanjingRejected = "chanjing_rejected"
    /// Chanjing answered with an error code that retrying cannot fix.
    case chanjingError = "chanjing_error"
    /// Chanjing refused the app credentials or access token.
    case credentialsRefused = "credentials_refused"
    /// The account's quota or balance is exhausted (40002, 余额不足, 蝉豆不足).
    case quotaExhausted = "quota_exhausted"
    /// Transient failures went on past the retry bounds.
    case retriesExhausted = "retries_exhausted"
    /// An earlier submit may have created a task and none was found (`--reconcile-policy adopt-or-fail`).
    case outcomeUnknown = "outcome_unknown"
    /// The request was older than `--max-request-age`; it was not submitted.
    case expired = "expired"
    /// The same `request_id` arrived with different parameters.
    case requestIDConflict = "request_id_conflict"

    /// The status of a result with this code: the request's own faults are `rejected` (retrying
    /// cannot help), the others `failed`.
    public var status: VideoResult.Status {
        switch self {
        case .invalidJSON, .notAnObject, .tooLarge, .tooDeep, .unknownField, .missingField, .invalidField, .chanjingRejected, .requestIDConflict: .rejected
        case .chanjingError, .credentialsRefused, .quotaExhausted, .retriesExhausted, .outcomeUnknown, .expired: .failed
        }
    }
}
