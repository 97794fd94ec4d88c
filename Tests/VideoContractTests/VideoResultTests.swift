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

    @Test("the error code list is stable")
    func codes() {
        #expect(ResultErrorCode.allCases.map(\.rawValue) == [
            "invalid_json", "not_an_object", "too_large", "too_deep", "unknown_field", "missing_field", "invalid_field",
            "chanjing_rejected", "chanjing_error", "credentials_refused", "quota_exhausted", "retries_exhausted",
            "outcome_unknown", "expired", "request_id_conflict",
        ])
    }
}
