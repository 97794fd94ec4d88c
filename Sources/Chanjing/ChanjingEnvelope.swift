/// Chanjing's response envelope: `{"trace_id", "code", "msg", "data"}`. Success is `code == 0`,
/// whatever the HTTP status.
struct ChanjingEnvelope<Payload: Decodable>: Decodable {
    var traceID: String?
    var code: Int
    var message: String?
    var data: Payload?

    enum CodingKeys: String, CodingKey {
        case traceID = "trace_id"
        case code
        case message = "msg"
        case data
    }
}

/// The envelope without its payload, to read the code of any answer.
struct ChanjingEnvelopeHeader: Decodable {
    var traceID: String?
    var code: Int
    var message: String?

    enum CodingKeys: String, CodingKey {
        case traceID = "trace_id"
        case code
        case message = "msg"
    }
}
