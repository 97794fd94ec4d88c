import Foundation
import Testing
import VideoContract

@Suite("Result messages")
struct VideoResultTests {
    @Test("a submitted result has the documented snake_case fields and no error")
    func submitted() throws {
        let result = VideoResult(
            requestID: "r-1", status: .submitted, creationID: "c-1",
            source: .init(topic: "t", partition: 2, offset: 9), attempts: 2, retries: .init(safe: 1, ambiguous: 0),
            chanjingTraceID: "trace"
        )
        let object = try #require(try JSONSerialization.jsonObject(with: Data(result.encoded())) as? [String: Any])
        #expect(Set(object.keys) == ["request_id", "status", "creation_id", "source", "attempts", "retries", "chanjing_trace_id", "produced_at"])
        #expect(object["status"] as? String == "submitted")
        #expect((object["source"] as? [String: Any])?["partition"] as? Int == 2)
        #expect(try VideoResult.decode(result.encoded()) == result)
    }

    @Test("produced_at is RFC 3339 in UTC")
    func producedAt() {
        let result = VideoResult(requestID: "r", status: .rejected, source: .init(topic: "t", partition: 0, offset: 0), attempts: 0, producedAt: Date(timeIntervalSince1970: 0))
        #expect(result.producedAt == "1970-01-01T00:00:00.000Z")
    }

    @Test("an error carries code, message, field and Chanjing's code")
    func error() throws {
        let result = VideoResult(
            requestID: "r", status: .rejected,
            error: .init(code: .chanjingRejected, message: "bad", field: nil, chanjingCode: 40000),
            source: .init(topic: "t", partition: 0, offset: 0), attempts: 1
        )
        let object = try #require(try JSONSerialization.jsonObject(with: Data(result.encoded())) as? [String: Any])
        let error = try #require(object["error"] as? [String: Any])
        #expect(error["code"] as? String == "chanjing_rejected")
        #expect(error["chanjing_code"] as? Int == 40000)
        #expect(error["field"] == nil)
    }

    static let awkward = "say \"hi\" \\ path/to\n\ttab \r \u{01}\u{08}\u{0c}\u{1f} 视频 🎬"

    /// `JSONEncoder`'s output, which `encoded()` writes by hand.
    static func encoderOutput(_ result: VideoResult) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(result), as: UTF8.self)
    }

    @Test("results are byte for byte what JSONEncoder with sorted keys writes", arguments: [
        VideoResult(requestID: "r-1", status: .submitted, creationID: "c/1", source: .init(topic: "chanjing.video.requests", partition: 2, offset: 1041),
                    attempts: 1, chanjingTraceID: "96afa792520b0e6a86d72e89435bc0a7"),
        VideoResult(requestID: "r-2", status: .failed, error: .init(code: .retriesExhausted, message: "Chanjing answered 50000 five times", chanjingCode: 50000),
                    source: .init(topic: "t", partition: 0, offset: 0), attempts: 5, retries: .init(safe: 1, ambiguous: 3), reconciled: true),
        VideoResult(requestID: "r-3", status: .rejected, error: .init(code: .invalidField, message: "must be one of 16:9, 9:16, 1:1", field: "aspect_ratio"),
                    source: .init(topic: "t", partition: 31, offset: Int64.max), attempts: 0, replayed: true),
        VideoResult(requestID: "", status: .submitted, creationID: "", source: .init(topic: "", partition: 0, offset: -1), attempts: 0, chanjingTraceID: ""),
    ])
    func matchesJSONEncoder(_ result: VideoResult) throws {
        #expect(String(decoding: result.encoded(), as: UTF8.self) == (try Self.encoderOutput(result)))
    }

    @Test("quotes, backslashes, control characters and non-ASCII text survive the round trip")
    func awkwardText() throws {
        let result = VideoResult(
            requestID: Self.awkward, status: .failed, creationID: Self.awkward,
            error: .init(code: .chanjingError, message: Self.awkward, field: Self.awkward, chanjingCode: -1),
            source: .init(topic: Self.awkward, partition: 1, offset: 2), attempts: 1, chanjingTraceID: Self.awkward
        )
        #expect(try VideoResult.decode(result.encoded()) == result)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(result.encoded())) as? [String: Any])
        #expect(object["request_id"] as? String == Self.awkward)
    }

    @Test("the writer knows every stored field: a new one must be added to VideoResult.encoded()")
    func everyFieldWritten() {
        let result = VideoResult(requestID: "r", status: .submitted, source: .init(topic: "t", partition: 0, offset: 0), attempts: 0)
        #expect(Mirror(reflecting: result).children.count == 11)
        #expect(Mirror(reflecting: result.source).children.count == 3)
        #expect(Mirror(reflecting: VideoResult.ErrorDetail(code: .expired, message: "")).children.count == 4)
        #expect(Mirror(reflecting: VideoResult.Retries()).children.count == 2)
    }

    @Test("the error code list is stable")
    func codes() {
        #expect(ResultErrorCode.allCases.map(\.rawValue) == [
            "invalid_json", "not_an_object", "too_large", "too_deep", "unknown_field", "missing_field", "invalid_field",
            "chanjing_rejected", "chanjing_error", "credentials_refused", "quota_exhausted", "retries_exhausted",
            "outcome_unknown", "expired", "request_id_conflict",
        ])
    }
}
