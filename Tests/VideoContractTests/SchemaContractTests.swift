import Foundation
import Testing
import VideoContract

/// Keeps the published contracts honest: `docs/schemas/*.schema.json` and `docs/asyncapi.yaml`
/// are checked by `Tests/Schemas/validate.py` (Python's jsonschema) against requests the real
/// decoder accepts or rejects and against every kind of result the real encoder writes, so the
/// files cannot drift from the code.
@Suite("Message schemas")
struct SchemaContractTests {
    /// This file is `<root>/Tests/VideoContractTests/SchemaContractTests.swift`.
    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    struct Sample: Sendable {
        var name: String
        var json: String
    }

    /// Requests the decoder accepts; the schema must accept them too. Between them they use
    /// every field, every allowed value, null for every optional field and each boundary.
    static let validRequests: [Sample] = [
        .init(name: "minimal-without-request-id", json: #"{"ref_prompt":"a cat"}"#),
        .init(name: "every-field", json: #"{"request_id":"r-1","ref_prompt":"机甲在城市夜景中奔跑,镜头跟拍,强节奏感","ref_img_url":["https://example.com/a.jpg"],"creation_type":4,"aspect_ratio":"16:9","quality_mode":"std","video_duration":5,"model_code":"kling-v2-5-turbo-normal"}"#),
        .init(name: "every-field-other-values", json: #"{"request_id":"!~","ref_prompt":" 机甲\n\t跟拍\r ","ref_img_url":["HTTPS://EXAMPLE.COM/a.jpg","http://[::1]:8080/a.jpg","https://user:pw@host.example/a.jpg?x=1#f","http://b.example:8080/y.png?q=1"],"creation_type":4,"aspect_ratio":"9:16","quality_mode":"pro","video_duration":10,"model_code":"kling-v2-5-turbo-normal"}"#),
        .init(name: "square", json: #"{"ref_prompt":"x","aspect_ratio":"1:1"}"#),
        .init(name: "every-optional-null", json: #"{"request_id":null,"ref_prompt":"x","ref_img_url":null,"creation_type":null,"aspect_ratio":null,"quality_mode":null,"video_duration":null,"model_code":null}"#),
        .init(name: "no-images", json: #"{"ref_prompt":"x","ref_img_url":[]}"#),
        .init(name: "longest-request-id", json: #"{"ref_prompt":"x","request_id":""# + String(repeating: "r", count: 128) + #""}"#),
        .init(name: "longest-prompt-cjk", json: #"{"ref_prompt":""# + String(repeating: "字", count: 2500) + #""}"#),
        // 2,500 scalars but 5,000 UTF-16 units: the limit counts scalars (code points).
        .init(name: "longest-prompt-astral", json: #"{"ref_prompt":""# + String(repeating: #"\ud83d\ude00"#, count: 2500) + #""}"#),
        .init(name: "prompt-after-ideographic-space", json: #"{"ref_prompt":"\u3000x"}"#),
        // Not Unicode White_Space, so not blank (ECMA-262's \s would call U+FEFF blank).
        .init(name: "prompt-zero-width-space", json: #"{"ref_prompt":"\u200b"}"#),
        .init(name: "prompt-byte-order-mark", json: #"{"ref_prompt":"\ufeff"}"#),
        .init(name: "unusual-urls", json: #"{"ref_prompt":"x","ref_img_url":["https://h","https://@h","https://a:b:c","https://h/字|{}"]}"#),
        .init(name: "longest-url", json: #"{"ref_prompt":"x","ref_img_url":["https://h/"# + String(repeating: "a", count: 2048 - 10) + #""]}"#),
    ]

    /// Requests the decoder rejects for a reason JSON Schema can state; the schema must reject
    /// them too. (Rules it cannot state, such as `5.0` for `5`, are listed in the schema.)
    static let invalidRequests: [Sample] = [
        .init(name: "top-level-array", json: #"["ref_prompt"]"#),
        .init(name: "top-level-string", json: #""just a string""#),
        .init(name: "top-level-null", json: "null"),
        .init(name: "top-level-number", json: "5"),
        .init(name: "missing-prompt", json: #"{}"#),
        .init(name: "missing-prompt-with-request-id", json: #"{"request_id":"r-1"}"#),
        .init(name: "null-prompt", json: #"{"ref_prompt":null}"#),
        .init(name: "empty-prompt", json: #"{"ref_prompt":""}"#),
        .init(name: "blank-prompt", json: #"{"ref_prompt":"   \t\n"}"#),
        .init(name: "blank-prompt-ideographic", json: #"{"ref_prompt":"\u3000\u3000"}"#),
        .init(name: "blank-prompt-nbsp-separators", json: #"{"ref_prompt":"\u00a0\u2028\u2029\u202f\u205f\u1680\u2000\u200a"}"#),
        .init(name: "prompt-number", json: #"{"ref_prompt":5}"#),
        .init(name: "prompt-array", json: #"{"ref_prompt":["x"]}"#),
        .init(name: "prompt-too-long", json: #"{"ref_prompt":""# + String(repeating: "字", count: 2501) + #""}"#),
        .init(name: "prompt-too-long-astral", json: #"{"ref_prompt":""# + String(repeating: #"\ud83d\ude00"#, count: 2501) + #""}"#),
        .init(name: "prompt-bell", json: #"{"ref_prompt":"bell\u0007"}"#),
        .init(name: "prompt-nul", json: #"{"ref_prompt":"nul\u0000"}"#),
        .init(name: "prompt-del", json: #"{"ref_prompt":"del\u007f"}"#),
        .init(name: "prompt-c1", json: #"{"ref_prompt":"c1\u0085"}"#),
        .init(name: "request-id-empty", json: #"{"ref_prompt":"x","request_id":""}"#),
        .init(name: "request-id-too-long", json: #"{"ref_prompt":"x","request_id":""# + String(repeating: "r", count: 129) + #""}"#),
        .init(name: "request-id-space", json: #"{"ref_prompt":"x","request_id":"a b"}"#),
        .init(name: "request-id-non-ascii", json: #"{"ref_prompt":"x","request_id":"é"}"#),
        // Python's `$` matches before a final newline: the schema must not rely on it.
        .init(name: "request-id-trailing-newline", json: #"{"ref_prompt":"x","request_id":"abc\n"}"#),
        .init(name: "request-id-number", json: #"{"ref_prompt":"x","request_id":7}"#),
        .init(name: "request-id-boolean", json: #"{"ref_prompt":"x","request_id":true}"#),
        .init(name: "creation-type-out-of-range", json: #"{"ref_prompt":"x","creation_type":3}"#),
        .init(name: "creation-type-string", json: #"{"ref_prompt":"x","creation_type":"4"}"#),
        .init(name: "model-code-unknown", json: #"{"ref_prompt":"x","model_code":"kling-v1"}"#),
        .init(name: "model-code-number", json: #"{"ref_prompt":"x","model_code":1}"#),
        .init(name: "aspect-ratio-unknown", json: #"{"ref_prompt":"x","aspect_ratio":"4:3"}"#),
        .init(name: "aspect-ratio-empty", json: #"{"ref_prompt":"x","aspect_ratio":""}"#),
        .init(name: "aspect-ratio-number", json: #"{"ref_prompt":"x","aspect_ratio":16}"#),
        .init(name: "quality-mode-upper-case", json: #"{"ref_prompt":"x","quality_mode":"STD"}"#),
        .init(name: "quality-mode-boolean", json: #"{"ref_prompt":"x","quality_mode":true}"#),
        .init(name: "duration-string", json: #"{"ref_prompt":"x","video_duration":"5"}"#),
        .init(name: "duration-fraction", json: #"{"ref_prompt":"x","video_duration":5.5}"#),
        .init(name: "duration-out-of-range", json: #"{"ref_prompt":"x","video_duration":7}"#),
        .init(name: "duration-negative", json: #"{"ref_prompt":"x","video_duration":-5}"#),
        .init(name: "duration-huge", json: #"{"ref_prompt":"x","video_duration":99999999999999999999999}"#),
        .init(name: "duration-boolean", json: #"{"ref_prompt":"x","video_duration":true}"#),
        .init(name: "images-string", json: #"{"ref_prompt":"x","ref_img_url":"https://h/a.jpg"}"#),
        .init(name: "images-too-many", json: #"{"ref_prompt":"x","ref_img_url":["https://h/1","https://h/2","https://h/3","https://h/4","https://h/5"]}"#),
        .init(name: "image-number", json: #"{"ref_prompt":"x","ref_img_url":["https://h/1",5]}"#),
        .init(name: "image-null", json: #"{"ref_prompt":"x","ref_img_url":[null]}"#),
        .init(name: "image-nested", json: #"{"ref_prompt":"x","ref_img_url":[["https://h/1"]]}"#),
        .init(name: "url-ftp", json: #"{"ref_prompt":"x","ref_img_url":["ftp://h/a.jpg"]}"#),
        .init(name: "url-javascript", json: #"{"ref_prompt":"x","ref_img_url":["javascript:alert(1)"]}"#),
        .init(name: "url-relative", json: #"{"ref_prompt":"x","ref_img_url":["/relative/a.jpg"]}"#),
        .init(name: "url-scheme-relative", json: #"{"ref_prompt":"x","ref_img_url":["//h/a.jpg"]}"#),
        .init(name: "url-no-host", json: #"{"ref_prompt":"x","ref_img_url":["https:///a.jpg"]}"#),
        .init(name: "url-port-without-host", json: #"{"ref_prompt":"x","ref_img_url":["https://:80/a.jpg"]}"#),
        .init(name: "url-userinfo-without-host", json: #"{"ref_prompt":"x","ref_img_url":["https://user@/a.jpg"]}"#),
        .init(name: "url-empty-ipv6", json: #"{"ref_prompt":"x","ref_img_url":["https://[]/a.jpg"]}"#),
        .init(name: "url-unterminated-ipv6", json: #"{"ref_prompt":"x","ref_img_url":["https://[::1/a.jpg"]}"#),
        .init(name: "url-space", json: #"{"ref_prompt":"x","ref_img_url":["https://h/a b.jpg"]}"#),
        .init(name: "url-trailing-newline", json: #"{"ref_prompt":"x","ref_img_url":["https://h/a.jpg\n"]}"#),
        .init(name: "url-nbsp", json: #"{"ref_prompt":"x","ref_img_url":["https://h/a\u00a0.jpg"]}"#),
        .init(name: "url-c1-control", json: #"{"ref_prompt":"x","ref_img_url":["https://h/a\u0090.jpg"]}"#),
        .init(name: "url-too-long", json: #"{"ref_prompt":"x","ref_img_url":["https://h/"# + String(repeating: "a", count: 2048 - 9) + #""]}"#),
        .init(name: "unknown-field-typo", json: #"{"ref_prompt":"x","video_durration":10}"#),
        .init(name: "unknown-field-callback", json: #"{"ref_prompt":"x","callback":"https://h/cb"}"#),
        .init(name: "unknown-field-empty-name", json: #"{"ref_prompt":"x","":1}"#),
        .init(name: "unknown-field-case", json: #"{"ref_prompt":"x","REF_PROMPT":"y"}"#),
    ]

    /// Messages the worker receives that no schema sample can show (not JSON, too large, too
    /// deep, `5.0` ...): they only feed the rejected results built from them.
    static let undecodable: [Sample] = [
        .init(name: "empty", json: ""),
        .init(name: "garbage", json: "garbage"),
        .init(name: "duplicate-key", json: #"{"request_id":"dup","ref_prompt":"x","ref_prompt":"y"}"#),
        .init(name: "lone-surrogate", json: #"{"ref_prompt":"\ud800"}"#),
        .init(name: "deep", json: #"{"ref_img_url":"# + String(repeating: "[", count: 40) + String(repeating: "]", count: 40) + "}"),
        .init(name: "duration-exponent", json: #"{"request_id":"r-e","ref_prompt":"x","video_duration":5e0}"#),
        .init(name: "url-long-in-bytes", json: #"{"ref_prompt":"x","ref_img_url":["https://h/"# + String(repeating: "é", count: 1020) + #""]}"#),
    ]

    static let decoder = RequestDecoder()

    static func decode(_ json: String) -> DecodedRequest {
        decoder.decode(Array(json.utf8), fallbackRequestID: "chanjing.video.requests-0-17")
    }

    @Test("the sample requests get the decoder's verdict the schema samples claim")
    func decoderVerdicts() {
        let names = (Self.validRequests + Self.invalidRequests).map(\.name)
        #expect(Set(names).count == names.count, "sample names must be unique: they are file names")
        for sample in Self.validRequests {
            if case .invalid(let rejection, _) = Self.decode(sample.json) {
                Issue.record("\(sample.name) is rejected by the decoder: \(rejection.code.rawValue) \(rejection.field ?? "-"): \(rejection.message)")
            }
        }
        // Only rejections a JSON Schema can state: a sample refused as bad JSON, too large or
        // too deep would prove nothing about the schema.
        let schemaLevel: Set<ResultErrorCode> = [.notAnObject, .unknownField, .missingField, .invalidField]
        for sample in Self.invalidRequests {
            switch Self.decode(sample.json) {
            case .valid:
                Issue.record("\(sample.name) is accepted by the decoder")
            case .invalid(let rejection, _):
                #expect(schemaLevel.contains(rejection.code), "\(sample.name) is rejected as \(rejection.code.rawValue), which no schema sample can show")
            }
        }
        for sample in Self.undecodable {
            if case .valid = Self.decode(sample.json) { Issue.record("\(sample.name) is accepted by the decoder") }
        }
    }

    /// Every kind of result: submitted, and rejected and failed with every error code, each
    /// bare and with every optional field; then the rejected results the worker builds (as in
    /// `RequestProcessor`) for every invalid sample, every undecodable message and every fuzz seed.
    static func results() throws -> [(name: String, result: VideoResult)] {
        let source = VideoResult.Source(topic: "chanjing.video.requests", partition: 2, offset: 1041)
        let extremes = VideoResult.Source(topic: "t", partition: .max, offset: .max)
        var results: [(name: String, result: VideoResult)] = [
            ("submitted-bare", VideoResult(requestID: "r-1", status: .submitted, creationID: "a60747d7-dc05-4afc-b2ef-ee4370ed53c6", source: source, attempts: 1)),
            (
                "submitted-every-field",
                VideoResult(
                    requestID: "r-1", status: .submitted, creationID: "c-1", source: extremes, attempts: 3,
                    retries: .init(safe: 1, ambiguous: 1), chanjingTraceID: "96afa792520b0e6a86d72e89435bc0a7",
                    producedAt: Date(timeIntervalSince1970: 0), replayed: true, reconciled: false
                )
            ),
        ]
        for code in ResultErrorCode.allCases {
            for status in [VideoResult.Status.rejected, .failed] {
                let name = "\(status.rawValue)-\(code.rawValue)"
                results.append((
                    "\(name)-bare",
                    VideoResult(requestID: "r-2", status: status, error: .init(code: code, message: "what went wrong"), source: source, attempts: 0)
                ))
                results.append((
                    "\(name)-every-field",
                    VideoResult(
                        requestID: "r-2", status: status,
                        error: .init(code: code, message: "what went wrong", field: "ref_img_url[1]", chanjingCode: 40000),
                        source: extremes, attempts: 5, retries: .init(safe: 2, ambiguous: 2), chanjingTraceID: "trace",
                        producedAt: Date(timeIntervalSince1970: 4_102_444_800.999), replayed: false, reconciled: true
                    )
                ))
            }
        }
        let seedsFolder = packageRoot.appendingPathComponent("Tests/Fuzz/seeds")
        let seeds = try FileManager.default.contentsOfDirectory(atPath: seedsFolder.path).sorted().map { name in
            (name: "seed-\(name)", bytes: try [UInt8](Data(contentsOf: seedsFolder.appendingPathComponent(name))))
        }
        let messages = (invalidRequests + undecodable).map { (name: "worker-\($0.name)", bytes: Array($0.json.utf8)) } + seeds
        for message in messages {
            guard case .invalid(let rejection, let requestID) = decoder.decode(message.bytes, fallbackRequestID: "chanjing.video.requests-0-17") else { continue }
            results.append((
                message.name,
                VideoResult(
                    requestID: requestID, status: .rejected,
                    error: .init(code: rejection.code, message: rejection.message, field: rejection.field),
                    source: .init(topic: "chanjing.video.requests", partition: 0, offset: 17), attempts: 0
                )
            ))
        }
        // The worker's too_large rejection, with a small limit so the message stays small.
        if case .invalid(let rejection, let requestID) = RequestDecoder(limits: .init(maxMessageBytes: 8)).decode(Array(#"{"ref_prompt":"x"}"#.utf8), fallbackRequestID: "t-1-2") {
            results.append(("worker-too-large", VideoResult(requestID: requestID, status: .rejected, error: .init(code: rejection.code, message: rejection.message), source: .init(topic: "t", partition: 1, offset: 2), attempts: 0)))
        }
        return results
    }

    /// `base` with `change` made to it: a sample that breaks one rule.
    static func changed(_ base: [String: Any], _ change: (inout [String: Any]) -> Void) -> [String: Any] {
        var copy = base
        change(&copy)
        return copy
    }

    /// Results the schema must refuse: each breaks one rule of the encoder's output, so a
    /// schema rule that has no effect (a misspelt keyword, a wrong `if`) is noticed.
    static func invalidResults(from submitted: VideoResult, _ rejected: VideoResult) throws -> [(name: String, json: [String: Any])] {
        func object(_ result: VideoResult) throws -> [String: Any] {
            try #require(try JSONSerialization.jsonObject(with: Data(result.encoded())) as? [String: Any])
        }
        let good = try object(submitted)
        let bad = try object(rejected)
        let error = try #require(bad["error"] as? [String: Any])
        return [
            ("submitted-without-creation-id", Self.changed(good) { $0["creation_id"] = nil }),
            ("submitted-with-error", Self.changed(good) { $0["error"] = error }),
            ("rejected-without-error", Self.changed(bad) { $0["error"] = nil }),
            ("rejected-with-creation-id", Self.changed(bad) { $0["creation_id"] = "c-1" }),
            ("failed-without-error", Self.changed(bad) { $0["status"] = "failed"; $0["error"] = nil }),
            ("unknown-status", Self.changed(good) { $0["status"] = "done" }),
            ("unknown-error-code", Self.changed(bad) { $0["error"] = Self.changed(error) { $0["code"] = "oops" } }),
            ("error-without-message", Self.changed(bad) { $0["error"] = Self.changed(error) { $0["message"] = nil } }),
            ("null-field", Self.changed(bad) { $0["error"] = Self.changed(error) { $0["field"] = NSNull() } }),
            ("null-trace-id", Self.changed(good) { $0["chanjing_trace_id"] = NSNull() }),
            ("null-replayed", Self.changed(good) { $0["replayed"] = NSNull() }),
            ("replayed-string", Self.changed(good) { $0["replayed"] = "yes" }),
            ("negative-attempts", Self.changed(good) { $0["attempts"] = -1 }),
            ("retries-without-ambiguous", Self.changed(good) { $0["retries"] = ["safe": 0] }),
            ("source-without-offset", Self.changed(good) { $0["source"] = ["topic": "t", "partition": 0] }),
            ("produced-at-not-a-date", Self.changed(good) { $0["produced_at"] = "2026-13-45T99:00:00.000Z" }),
            ("produced-at-not-utc", Self.changed(good) { $0["produced_at"] = "2026-11-25T22:31:33.120+08:00" }),
            ("missing-request-id", Self.changed(good) { $0["request_id"] = nil }),
            ("unknown-field", Self.changed(good) { $0["extra"] = 1 }),
        ]
    }

    /// Every kind of completion, each with and without its optional fields, at the extremes.
    static func completions() -> [(name: String, completion: VideoCompletion)] {
        let source = VideoResult.Source(topic: "chanjing.video.requests", partition: 2, offset: 1041)
        let extremes = VideoResult.Source(topic: "t", partition: .max, offset: .max)
        let submitted = Date(timeIntervalSince1970: 1_795_617_093.12)
        var completions: [(name: String, completion: VideoCompletion)] = [
            ("succeeded", VideoCompletion(
                requestID: "r-1", creationID: "a60747d7-dc05-4afc-b2ef-ee4370ed53c6", status: .succeeded, videoURLs: ["https://v.example/a.mp4"],
                progressDescription: "Success", submittedAt: submitted, finishedAt: submitted + 74.2, source: source
            )),
            ("succeeded-two-urls-no-progress", VideoCompletion(
                requestID: "r", creationID: "c", status: .succeeded, videoURLs: ["https://v.example/a.mp4", "https://v.example/b.mp4"],
                progressDescription: nil, submittedAt: Date(timeIntervalSince1970: 0), finishedAt: Date(timeIntervalSince1970: 0), source: extremes,
                producedAt: Date(timeIntervalSince1970: 4_102_444_800.999)
            )),
        ]
        let codes: [(VideoCompletion.Status, VideoCompletion.ErrorCode)] = [(.failed, .generationFailed), (.failed, .noOutput), (.expired, .trackingExpired)]
        for (status, code) in codes {
            for chanjingMessage in [nil, "视频生成失败"] {
                completions.append((
                    "\(status.rawValue)-\(code.rawValue)\(chanjingMessage == nil ? "" : "-with-message")",
                    VideoCompletion(
                        requestID: "r-2", creationID: "c-2", status: status, progressDescription: status == .expired ? "Generating" : "Error",
                        error: .init(code: code, message: "why", chanjingMessage: chanjingMessage), submittedAt: submitted, finishedAt: submitted + 3600,
                        source: source
                    )
                ))
            }
        }
        return completions
    }

    /// Completions the schema must refuse, each breaking one rule of the encoder's output.
    static func invalidCompletions(from succeeded: VideoCompletion, _ failed: VideoCompletion) throws -> [(name: String, json: [String: Any])] {
        let good = try #require(try JSONSerialization.jsonObject(with: Data(succeeded.encoded())) as? [String: Any])
        let bad = try #require(try JSONSerialization.jsonObject(with: Data(failed.encoded())) as? [String: Any])
        let error = try #require(bad["error"] as? [String: Any])
        return [
            ("succeeded-without-url", Self.changed(good) { $0["video_urls"] = [String]() }),
            ("succeeded-with-error", Self.changed(good) { $0["error"] = error }),
            ("failed-without-error", Self.changed(bad) { $0["error"] = nil }),
            ("failed-with-url", Self.changed(bad) { $0["video_urls"] = ["https://v.example/a.mp4"] }),
            ("failed-tracking-expired", Self.changed(bad) { $0["error"] = Self.changed(error) { $0["code"] = "tracking_expired" } }),
            ("expired-generation-failed", Self.changed(bad) { $0["status"] = "expired" }),
            ("unknown-status", Self.changed(good) { $0["status"] = "done" }),
            ("unknown-error-code", Self.changed(bad) { $0["error"] = Self.changed(error) { $0["code"] = "oops" } }),
            ("null-progress", Self.changed(good) { $0["progress_desc"] = NSNull() }),
            ("negative-render-seconds", Self.changed(good) { $0["render_seconds"] = -1 }),
            ("finished-at-not-utc", Self.changed(good) { $0["finished_at"] = "2026-11-25T22:31:33.120+08:00" }),
            ("missing-creation-id", Self.changed(good) { $0["creation_id"] = nil }),
            ("unknown-field", Self.changed(good) { $0["extra"] = 1 }),
        ]
    }

    @Test("the schemas and the AsyncAPI document agree with the decoder and the encoder", .timeLimit(.minutes(1)))
    func schemasAgreeWithTheCode() throws {
        let probe = try Self.python(["-c", "import jsonschema, yaml"])
        guard probe.status == 0 else {
            Issue.record("Python 3 with the jsonschema and PyYAML packages is needed to check the message schemas: run .ci/setup. (\(probe.output))")
            return
        }
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("schema-contract-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: folder) }
        func write(_ subfolder: String, _ name: String, _ bytes: [UInt8]) throws {
            let directory = folder.appendingPathComponent(subfolder)
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            try Data(bytes).write(to: directory.appendingPathComponent("\(name).json"))
        }
        for sample in Self.validRequests { try write("valid-requests", sample.name, Array(sample.json.utf8)) }
        for sample in Self.invalidRequests { try write("invalid-requests", sample.name, Array(sample.json.utf8)) }
        let results = try Self.results()
        for (name, result) in results { try write("results", name, result.encoded()) }
        let submitted = try #require(results.first { $0.result.status == .submitted }?.result)
        let rejected = try #require(results.first { $0.result.status == .rejected }?.result)
        let invalidResults = try Self.invalidResults(from: submitted, rejected)
        for (name, object) in invalidResults {
            try write("invalid-results", name, [UInt8](try JSONSerialization.data(withJSONObject: object)))
        }
        #expect(Set(results.map(\.name)).count == results.count, "result names must be unique: they are file names")
        let completions = Self.completions()
        for (name, completion) in completions { try write("completions", name, completion.encoded()) }
        let invalidCompletions = try Self.invalidCompletions(from: completions[0].completion, completions[2].completion)
        for (name, object) in invalidCompletions {
            try write("invalid-completions", name, [UInt8](try JSONSerialization.data(withJSONObject: object)))
        }
        let samples = Self.validRequests.count + Self.invalidRequests.count + results.count + invalidResults.count + completions.count + invalidCompletions.count

        let root = Self.packageRoot.path
        let run = try Self.python([
            "\(root)/Tests/Schemas/validate.py",
            "--schemas", "\(root)/docs/schemas",
            "--asyncapi", "\(root)/docs/asyncapi.yaml",
            "--valid-requests", folder.appendingPathComponent("valid-requests").path,
            "--invalid-requests", folder.appendingPathComponent("invalid-requests").path,
            "--results", folder.appendingPathComponent("results").path,
            "--invalid-results", folder.appendingPathComponent("invalid-results").path,
            "--completions", folder.appendingPathComponent("completions").path,
            "--invalid-completions", folder.appendingPathComponent("invalid-completions").path,
        ])
        #expect(run.status == 0, "validate.py exited \(run.status):\n\(run.output)")
        // A script that skipped a folder would pass without checking anything.
        #expect(run.output.contains(" \(samples) samples checked"), "validate.py did not check all \(samples) samples:\n\(run.output)")
    }

    /// Runs `python3` with `arguments`; returns its exit status and its output and errors.
    static func python(_ arguments: [String]) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3"] + arguments
        process.currentDirectoryURL = packageRoot
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        // Read before waiting: a full pipe would otherwise block the child forever.
        let output = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: output, as: UTF8.self))
    }
}
