@testable import Chanjing
import NIOCore
import Testing

@Suite("Chanjing error classification")
struct ChanjingErrorTests {
    static let apiCodes: [(Int, String, ChanjingError.Disposition)] = [
        (400, "参数格式错误", .rejected),
        (40000, "参数错误", .rejected),
        (10400, "AccessToken验证失败", .refreshToken),
        (10401, "token error", .refreshToken),
        (40001, "超出QPS限制", .retrySafe),
        (40002, "时长已达上限", .quotaExhausted),
        (50000, "系统内部错误", .retryAmbiguous),
        (51000, "系统内部错误", .retryAmbiguous),
        (10003, "蝉豆不足,请充值", .quotaExhausted),
        (50000, "余额不足", .quotaExhausted),
        (10004, "扣费失败", .quotaExhausted),
        (10005, "蝉豆余额不够", .quotaExhausted),
        (10006, "账户欠费", .quotaExhausted),
        (12345, "something new", .failed),
    ]

    @Test("every code of the reference table", arguments: apiCodes)
    func apiCode(code: Int, message: String, expected: ChanjingError.Disposition) {
        #expect(ChanjingError.api(code: code, message: message, traceID: nil).disposition == expected)
    }

    @Test("HTTP statuses and transport failures")
    func other() {
        #expect(ChanjingError.httpStatus(502).disposition == .retryAmbiguous)
        #expect(ChanjingError.httpStatus(500).disposition == .retryAmbiguous)
        #expect(ChanjingError.httpStatus(429).disposition == .retrySafe)
        #expect(ChanjingError.httpStatus(404).disposition == .failed)
        #expect(ChanjingError.transport("refused", requestSent: false).disposition == .retrySafe)
        #expect(ChanjingError.transport("reset", requestSent: true).disposition == .retryAmbiguous)
        #expect(ChanjingError.malformedResponse("html").disposition == .retryAmbiguous)
        #expect(ChanjingError.credentialsRefused("no").disposition == .credentialsRefused)
        #expect(ChanjingError.tokenUnavailable("down").disposition == .retrySafe)
    }

    @Test("the envelope's code wins over the HTTP status; non-JSON bodies are classified by status")
    func unwrap() {
        func run(_ status: Int, _ body: String) -> Result<String, ChanjingError> {
            Result { () throws(ChanjingError) -> String in
                try ChanjingTransport.unwrap(status: status, body: ByteBuffer(string: body), as: String.self).0
            }
        }
        #expect(run(200, #"{"trace_id":"t","code":0,"msg":"success","data":"id-1"}"#) == .success("id-1"))
        #expect(run(200, #"{"trace_id":"t","code":40000,"msg":"bad"}"#) == .failure(.api(code: 40000, message: "bad", traceID: "t")))
        #expect(run(500, #"{"trace_id":"t","code":50000,"msg":"x"}"#) == .failure(.api(code: 50000, message: "x", traceID: "t")))
        #expect(run(502, "<html>Bad Gateway</html>") == .failure(.httpStatus(502)))
        guard case .failure(.malformedResponse) = run(200, "<html>") else { Issue.record("expected malformedResponse"); return }
        guard case .failure(.malformedResponse) = run(200, #"{"code":0,"msg":"success"}"#) else { Issue.record("expected malformedResponse"); return }
        // An error's data may have any shape; a success's must be the payload.
        #expect(run(200, #"{"trace_id":"t","code":10400,"msg":"token","data":{"x":1}}"#) == .failure(.api(code: 10400, message: "token", traceID: "t")))
        guard case .failure(.malformedResponse) = run(200, #"{"code":0,"msg":"success","data":{"x":1}}"#) else { Issue.record("expected malformedResponse"); return }
        #expect(run(503, #"{"trace_id":"t","code":0,"msg":"success","data":"id-1"}"#) == .failure(.httpStatus(503)))
        #expect(run(503, #"{"code":0,"msg":"success","data":{"x":1}}"#) == .failure(.httpStatus(503)))
    }
}
