import Testing
import VideoContract

@Suite("Request validation")
struct RequestDecoderTests {
    let decoder = RequestDecoder()

    func decode(_ json: String) -> DecodedRequest {
        decoder.decode(Array(json.utf8), fallbackRequestID: "t-0-7")
    }

    func rejection(_ json: String) -> RequestRejection? {
        if case .invalid(let rejection, _) = decode(json) { return rejection }
        return nil
    }

    @Test("a minimal request gets every default")
    func defaults() {
        #expect(
            decode(#"{"ref_prompt":"a cat"}"#)
                == .valid(VideoRequest(requestID: "t-0-7", prompt: "a cat", referenceImageURLs: [], creationType: 4, aspectRatio: "16:9", qualityMode: "std", videoDuration: 5, modelCode: "kling-v2-5-turbo-normal"))
        )
    }

    @Test("a full request is taken as given")
    func full() {
        let json = #"{"request_id":"r-1","ref_prompt":"机甲","ref_img_url":["https://a.example/x.jpg","http://b.example:8080/y.png?q=1"],"creation_type":4,"aspect_ratio":"9:16","quality_mode":"pro","video_duration":10,"model_code":"kling-v2-5-turbo-normal"}"#
        #expect(
            decode(json)
                == .valid(VideoRequest(requestID: "r-1", prompt: "机甲", referenceImageURLs: ["https://a.example/x.jpg", "http://b.example:8080/y.png?q=1"], creationType: 4, aspectRatio: "9:16", qualityMode: "pro", videoDuration: 10, modelCode: "kling-v2-5-turbo-normal"))
        )
    }

    @Test("null means absent for optional fields")
    func nulls() {
        let json = #"{"request_id":null,"ref_prompt":"x","ref_img_url":null,"creation_type":null,"aspect_ratio":null,"quality_mode":null,"video_duration":null,"model_code":null}"#
        #expect(decode(json) == .valid(VideoRequest(requestID: "t-0-7", prompt: "x")))
    }

    static let accepted: [String] = [
        #"{"ref_prompt":"x","aspect_ratio":"16:9"}"#,
        #"{"ref_prompt":"x","aspect_ratio":"9:16"}"#,
        #"{"ref_prompt":"x","aspect_ratio":"1:1"}"#,
        #"{"ref_prompt":"x","quality_mode":"std"}"#,
        #"{"ref_prompt":"x","quality_mode":"pro"}"#,
        #"{"ref_prompt":"x","video_duration":5}"#,
        #"{"ref_prompt":"x","video_duration":10}"#,
        #"{"ref_prompt":"x","creation_type":4}"#,
        #"{"ref_prompt":"x","ref_img_url":[]}"#,
        #"{"ref_prompt":"x","ref_img_url":["https://h/1","https://h/2","https://h/3","https://h/4"]}"#,
        #"{"ref_prompt":"x","ref_img_url":["HTTPS://EXAMPLE.COM/a.jpg"]}"#,
        #"{"ref_prompt":"x","ref_img_url":["http://[::1]:8080/a.jpg"]}"#,
        #"{"ref_prompt":"x","ref_img_url":["https://user@host.example/a.jpg"]}"#,
        #"{"ref_prompt":"x","request_id":"a"}"#,
        "{\"ref_prompt\":\"x\",\"request_id\":\"\(String(repeating: "r", count: 128))\"}",
        #"{"ref_prompt":"x","request_id":"!~"}"#,
        "{\"ref_prompt\":\"\(String(repeating: "字", count: 2500))\"}",
        #"{"ref_prompt":"line one\nline two\ttabbed\r"}"#,
        #"{"ref_prompt":" x "}"#,
        #" { "ref_prompt" : "x" } "#,
        #"{"ref_prompt":"\ud83d\ude00"}"#,
    ]

    @Test("accepted values", arguments: accepted)
    func acceptedValues(json: String) {
        guard case .valid = decode(json) else {
            Issue.record("rejected: \(String(describing: rejection(json)))")
            return
        }
    }

    struct Case: Sendable, CustomTestStringConvertible {
        var json: String
        var code: ResultErrorCode
        var field: String?
        var testDescription: String { "\(code.rawValue) \(field ?? "-"): \(json.prefix(60))" }
    }

    static let rejected: [Case] = [
        // ref_prompt
        .init(json: #"{}"#, code: .missingField, field: "ref_prompt"),
        .init(json: #"{"ref_prompt":null}"#, code: .missingField, field: "ref_prompt"),
        .init(json: #"{"ref_prompt":""}"#, code: .invalidField, field: "ref_prompt"),
        .init(json: #"{"ref_prompt":"   \t\n"}"#, code: .invalidField, field: "ref_prompt"),
        .init(json: #"{"ref_prompt":"\u3000\u3000"}"#, code: .invalidField, field: "ref_prompt"),
        .init(json: #"{"ref_prompt":5}"#, code: .invalidField, field: "ref_prompt"),
        .init(json: #"{"ref_prompt":["x"]}"#, code: .invalidField, field: "ref_prompt"),
        .init(json: "{\"ref_prompt\":\"\(String(repeating: "字", count: 2501))\"}", code: .invalidField, field: "ref_prompt"),
        .init(json: #"{"ref_prompt":"bell\u0007"}"#, code: .invalidField, field: "ref_prompt"),
        .init(json: #"{"ref_prompt":"nul\u0000"}"#, code: .invalidField, field: "ref_prompt"),
        .init(json: #"{"ref_prompt":"c1\u0085"}"#, code: .invalidField, field: "ref_prompt"),
        // request_id
        .init(json: #"{"ref_prompt":"x","request_id":""}"#, code: .invalidField, field: "request_id"),
        .init(json: "{\"ref_prompt\":\"x\",\"request_id\":\"\(String(repeating: "r", count: 129))\"}", code: .invalidField, field: "request_id"),
        .init(json: #"{"ref_prompt":"x","request_id":"a b"}"#, code: .invalidField, field: "request_id"),
        .init(json: #"{"ref_prompt":"x","request_id":"é"}"#, code: .invalidField, field: "request_id"),
        .init(json: #"{"ref_prompt":"x","request_id":7}"#, code: .invalidField, field: "request_id"),
        // creation_type
        .init(json: #"{"ref_prompt":"x","creation_type":3}"#, code: .invalidField, field: "creation_type"),
        .init(json: #"{"ref_prompt":"x","creation_type":"4"}"#, code: .invalidField, field: "creation_type"),
        .init(json: #"{"ref_prompt":"x","creation_type":4.0}"#, code: .invalidField, field: "creation_type"),
        // model_code
        .init(json: #"{"ref_prompt":"x","model_code":"kling-v1"}"#, code: .invalidField, field: "model_code"),
        .init(json: #"{"ref_prompt":"x","model_code":1}"#, code: .invalidField, field: "model_code"),
        // aspect_ratio
        .init(json: #"{"ref_prompt":"x","aspect_ratio":"4:3"}"#, code: .invalidField, field: "aspect_ratio"),
        .init(json: #"{"ref_prompt":"x","aspect_ratio":""}"#, code: .invalidField, field: "aspect_ratio"),
        .init(json: #"{"ref_prompt":"x","aspect_ratio":16}"#, code: .invalidField, field: "aspect_ratio"),
        // quality_mode
        .init(json: #"{"ref_prompt":"x","quality_mode":"STD"}"#, code: .invalidField, field: "quality_mode"),
        .init(json: #"{"ref_prompt":"x","quality_mode":true}"#, code: .invalidField, field: "quality_mode"),
        // video_duration
        .init(json: #"{"ref_prompt":"x","video_duration":"5"}"#, code: .invalidField, field: "video_duration"),
        .init(json: #"{"ref_prompt":"x","video_duration":5.5}"#, code: .invalidField, field: "video_duration"),
        .init(json: #"{"ref_prompt":"x","video_duration":5.0}"#, code: .invalidField, field: "video_duration"),
        .init(json: #"{"ref_prompt":"x","video_duration":5e0}"#, code: .invalidField, field: "video_duration"),
        .init(json: #"{"ref_prompt":"x","video_duration":7}"#, code: .invalidField, field: "video_duration"),
        .init(json: #"{"ref_prompt":"x","video_duration":-5}"#, code: .invalidField, field: "video_duration"),
        .init(json: #"{"ref_prompt":"x","video_duration":99999999999999999999999}"#, code: .invalidField, field: "video_duration"),
        // ref_img_url
        .init(json: #"{"ref_prompt":"x","ref_img_url":"https://h/a.jpg"}"#, code: .invalidField, field: "ref_img_url"),
        .init(json: #"{"ref_prompt":"x","ref_img_url":["https://h/1","https://h/2","https://h/3","https://h/4","https://h/5"]}"#, code: .invalidField, field: "ref_img_url"),
        .init(json: #"{"ref_prompt":"x","ref_img_url":["https://h/1",5]}"#, code: .invalidField, field: "ref_img_url[1]"),
        .init(json: #"{"ref_prompt":"x","ref_img_url":[null]}"#, code: .invalidField, field: "ref_img_url[0]"),
        .init(json: #"{"ref_prompt":"x","ref_img_url":["ftp://h/a.jpg"]}"#, code: .invalidField, field: "ref_img_url[0]"),
        .init(json: #"{"ref_prompt":"x","ref_img_url":["/relative/a.jpg"]}"#, code: .invalidField, field: "ref_img_url[0]"),
        .init(json: #"{"ref_prompt":"x","ref_img_url":["https:///a.jpg"]}"#, code: .invalidField, field: "ref_img_url[0]"),
        .init(json: #"{"ref_prompt":"x","ref_img_url":["https://:80/a.jpg"]}"#, code: .invalidField, field: "ref_img_url[0]"),
        .init(json: #"{"ref_prompt":"x","ref_img_url":["https://h/a b.jpg"]}"#, code: .invalidField, field: "ref_img_url[0]"),
        .init(json: #"{"ref_prompt":"x","ref_img_url":["javascript:alert(1)"]}"#, code: .invalidField, field: "ref_img_url[0]"),
        .init(json: "{\"ref_prompt\":\"x\",\"ref_img_url\":[\"https://h/\(String(repeating: "a", count: 2048))\"]}", code: .invalidField, field: "ref_img_url[0]"),
        // unknown fields
        .init(json: #"{"ref_prompt":"x","video_durration":10}"#, code: .unknownField, field: "video_durration"),
        .init(json: #"{"ref_prompt":"x","callback":"https://h/cb"}"#, code: .unknownField, field: "callback"),
        // shape
        .init(json: #"["ref_prompt"]"#, code: .notAnObject),
        .init(json: #""just a string""#, code: .notAnObject),
        .init(json: "null", code: .notAnObject),
        .init(json: "", code: .invalidJSON),
        .init(json: #"{"ref_prompt":"x""#, code: .invalidJSON),
        .init(json: #"{"ref_prompt":"x",}"#, code: .invalidJSON),
        .init(json: #"{"ref_prompt":'x'}"#, code: .invalidJSON),
        .init(json: #"{"ref_prompt":"x"} trailing"#, code: .invalidJSON),
        .init(json: #"{"ref_prompt":"x","ref_prompt":"y"}"#, code: .invalidJSON),
        .init(json: #"{"ref_prompt":"\ud800"}"#, code: .invalidJSON),
        .init(json: "{\"ref_prompt\":\"raw\u{01}control\"}", code: .invalidJSON),
        .init(json: #"{"ref_prompt":NaN}"#, code: .invalidJSON),
        .init(json: #"{"ref_prompt":"x","video_duration":05}"#, code: .invalidJSON),
        .init(json: "{\"a\":" + String(repeating: "[", count: 32) + String(repeating: "]", count: 32) + "}", code: .tooDeep),
    ]

    @Test("rejected values name the field and the rule", arguments: rejected)
    func rejectedValues(_ testCase: Case) {
        let rejection = rejection(testCase.json)
        #expect(rejection?.code == testCase.code)
        #expect(rejection?.field == testCase.field)
        #expect(rejection?.message.isEmpty == false)
    }

    @Test("nesting up to the limit parses; one level more is too deep")
    func depthBound() {
        // The object itself is level 1: 31 nested arrays reach exactly 32.
        let atLimit = "{\"x\":" + String(repeating: "[", count: 31) + String(repeating: "]", count: 31) + "}"
        #expect(rejection(atLimit)?.code == .unknownField)
        let deep = String(repeating: "[", count: 100_000)
        #expect(rejection(deep)?.code == .tooDeep)
    }

    @Test("bytes that are not UTF-8 are invalid JSON")
    func notUTF8() {
        let decoded = decoder.decode([0x7B, 0x22, 0xFF, 0xFE, 0x22, 0x7D], fallbackRequestID: "f")
        guard case .invalid(let rejection, let id) = decoded else { Issue.record("accepted"); return }
        #expect(rejection.code == .invalidJSON)
        #expect(rejection.message.contains("UTF-8"))
        #expect(id == "f")
    }

    @Test("the size limit is checked on the raw bytes, both sides")
    func sizeBound() {
        let limited = RequestDecoder(limits: RequestLimits(maxMessageBytes: 40))
        let fits = #"{"ref_prompt":"xxxxxxxxxxxxxxxxxxxxxxx"}"#  // 40 bytes
        #expect(fits.utf8.count == 40)
        guard case .valid = limited.decode(Array(fits.utf8), fallbackRequestID: "f") else { Issue.record("rejected"); return }
        let over = #"{"ref_prompt":"xxxxxxxxxxxxxxxxxxxxxxxx"}"#
        guard case .invalid(let rejection, _) = limited.decode(Array(over.utf8), fallbackRequestID: "f") else { Issue.record("accepted"); return }
        #expect(rejection.code == .tooLarge)
    }

    @Test("the default 1 MiB limit, both sides")
    func defaultSizeBound() {
        let limit = RequestLimits.default.maxMessageBytes
        let frame = #"{"ref_prompt":""}"#
        let exact = #"{"ref_prompt":""# + String(repeating: "x", count: limit - frame.utf8.count) + #""}"#
        #expect(exact.utf8.count == limit)
        #expect(rejection(exact)?.code == .invalidField)  // read and validated: the prompt is too long
        #expect(rejection(exact.replacingOccurrences(of: "{", with: "{ "))?.code == .tooLarge)
    }

    @Test("the URL length limit, both sides")
    func urlBound() {
        let prefix = "https://h/"
        let atLimit = prefix + String(repeating: "a", count: 2048 - prefix.utf8.count)
        #expect(rejection(#"{"ref_prompt":"x","ref_img_url":[""# + atLimit + #""]}"#) == nil)
        #expect(rejection(#"{"ref_prompt":"x","ref_img_url":[""# + atLimit + #"a"]}"#)?.field == "ref_img_url[0]")
    }

    @Test("configurable prompt and image limits apply on both sides")
    func configurableLimits() {
        let limited = RequestDecoder(limits: RequestLimits(maxPromptScalars: 3, maxReferenceImages: 1))
        func accepts(_ json: String) -> Bool {
            if case .valid = limited.decode(Array(json.utf8), fallbackRequestID: "f") { return true }
            return false
        }
        #expect(accepts(#"{"ref_prompt":"abc"}"#))
        #expect(!accepts(#"{"ref_prompt":"abcd"}"#))
        #expect(accepts(#"{"ref_prompt":"a","ref_img_url":["https://h/1"]}"#))
        #expect(!accepts(#"{"ref_prompt":"a","ref_img_url":["https://h/1","https://h/2"]}"#))
    }

    @Test("a rejected request keeps its own request_id; an invalid request_id falls back")
    func rejectionIdentity() {
        #expect(decode(#"{"request_id":"mine","video_duration":3,"ref_prompt":"x"}"#).requestID == "mine")
        #expect(decode(#"{"request_id":"has space","ref_prompt":"x"}"#).requestID == "t-0-7")
        #expect(decode("garbage").requestID == "t-0-7")
    }

    @Test("echoed input is escaped and shortened")
    func echoedInput() {
        let long = String(repeating: "z", count: 500)
        let message = rejection("{\"ref_prompt\":\"x\",\"\(long)\u{0001}\":1}".replacingOccurrences(of: "\u{0001}", with: "\\u0001"))?.message ?? ""
        #expect(message.count < 400)
        #expect(!message.contains("\u{0001}"))
    }
}
