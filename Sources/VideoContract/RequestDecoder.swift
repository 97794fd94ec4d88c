/// Decodes and validates request messages: the one entry point the worker, the `enqueue`
/// command and the fuzz target share.
public struct RequestDecoder: Sendable {
    /// The fields a request may carry.
    public static let fields: Set<String> = [
        "request_id", "ref_prompt", "ref_img_url", "creation_type", "aspect_ratio", "quality_mode",
        "video_duration", "model_code",
    ]
    /// Longest caller-supplied `request_id`.
    public static let maxRequestIDLength = 128

    public let limits: RequestLimits

    public init(limits: RequestLimits = .default) {
        self.limits = limits
    }

    /// Decodes one message value. `fallbackRequestID` (conventionally `<topic>-<partition>-<offset>`)
    /// names the request when it has no usable `request_id`.
    public func decode(_ bytes: [UInt8], fallbackRequestID: String) -> DecodedRequest {
        guard bytes.count <= limits.maxMessageBytes else {
            return .invalid(
                RequestRejection(
                    code: .tooLarge,
                    message: "the message is \(bytes.count) bytes; the limit is \(limits.maxMessageBytes)"
                ),
                requestID: fallbackRequestID
            )
        }
        let document: JSONValue
        do {
            document = try StrictJSONParser(maxDepth: limits.maxDepth).parse(bytes)
        } catch {
            return .invalid(Self.rejection(for: error), requestID: fallbackRequestID)
        }
        guard case .object(let members) = document else {
            return .invalid(
                RequestRejection(code: .notAnObject, message: "the message must be a JSON object, not \(document.typeDescription)"),
                requestID: fallbackRequestID
            )
        }
        // Read request_id first so every later rejection is reported under the caller's own id.
        let requestID: String
        switch Self.requestID(members["request_id"]) {
        case .success(let id): requestID = id ?? fallbackRequestID
        case .failure(let rejection): return .invalid(rejection, requestID: fallbackRequestID)
        }
        do {
            return .valid(try validate(members, requestID: requestID))
        } catch {
            return .invalid(error, requestID: requestID)
        }
    }

    private static func rejection(for failure: StrictJSONParser.Failure) -> RequestRejection {
        switch failure {
        case .notUTF8:
            RequestRejection(code: .invalidJSON, message: "the message is not valid UTF-8")
        case .syntax(let detail):
            RequestRejection(code: .invalidJSON, message: "the message is not valid JSON: \(detail)")
        case .tooDeep(let limit):
            RequestRejection(code: .tooDeep, message: "arrays and objects nest deeper than \(limit) levels")
        }
    }

    private static func requestID(_ value: JSONValue?) -> Result<String?, RequestRejection> {
        guard let value, value != .null else { return .success(nil) }
        guard case .string(let id) = value else {
            return .failure(.init(code: .invalidField, field: "request_id", message: "must be a string, not \(value.typeDescription)"))
        }
        guard (1...maxRequestIDLength).contains(id.unicodeScalars.count),
            id.unicodeScalars.allSatisfy({ (0x21...0x7E).contains($0.value) })
        else {
            return .failure(
                .init(
                    code: .invalidField,
                    field: "request_id",
                    message: "must be 1 to \(maxRequestIDLength) printable ASCII characters without spaces (0x21-0x7E)"
                )
            )
        }
        return .success(id)
    }

    private func validate(_ members: [String: JSONValue], requestID: String) throws(RequestRejection) -> VideoRequest {
        let unknown = members.keys.filter { !Self.fields.contains($0) }.sorted()
        if let first = unknown.first {
            let names = unknown.prefix(5).map(ContractText.quoted).joined(separator: ", ")
            throw RequestRejection(
                code: .unknownField,
                field: String(ContractText.quoted(first).dropFirst().dropLast()),
                message: "unknown field\(unknown.count > 1 ? "s" : "") \(names)\(unknown.count > 5 ? " and \(unknown.count - 5) more" : ""); allowed fields are \(Self.fields.sorted().joined(separator: ", "))"
            )
        }
        // `null` for an optional field means absent.
        let present = members.filter { $0.value != .null }

        guard let promptValue = present["ref_prompt"] else {
            throw RequestRejection(code: .missingField, field: "ref_prompt", message: "is required")
        }
        let prompt = try validatePrompt(promptValue)
        let images = try validateImages(present["ref_img_url"])
        let creationType = try Self.integer(present["creation_type"], field: "creation_type", allowed: KlingOptions.creationTypes, default: KlingOptions.defaultCreationType)
        let duration = try Self.integer(present["video_duration"], field: "video_duration", allowed: KlingOptions.videoDurations, default: KlingOptions.defaultVideoDuration)
        let aspectRatio = try Self.string(present["aspect_ratio"], field: "aspect_ratio", allowed: KlingOptions.aspectRatios, default: KlingOptions.defaultAspectRatio)
        let quality = try Self.string(present["quality_mode"], field: "quality_mode", allowed: KlingOptions.qualityModes, default: KlingOptions.defaultQualityMode)
        let model = try Self.string(present["model_code"], field: "model_code", allowed: KlingOptions.modelCodes, default: KlingOptions.defaultModelCode)
        return VideoRequest(
            requestID: requestID,
            prompt: prompt,
            referenceImageURLs: images,
            creationType: creationType,
            aspectRatio: aspectRatio,
            qualityMode: quality,
            videoDuration: duration,
            modelCode: model
        )
    }

    private func validatePrompt(_ value: JSONValue) throws(RequestRejection) -> String {
        guard case .string(let prompt) = value else {
            throw RequestRejection(code: .invalidField, field: "ref_prompt", message: "must be a string, not \(value.typeDescription)")
        }
        guard !prompt.unicodeScalars.allSatisfy(\.properties.isWhitespace) else {
            throw RequestRejection(code: .invalidField, field: "ref_prompt", message: "must not be empty or only whitespace")
        }
        let length = prompt.unicodeScalars.count
        guard length <= limits.maxPromptScalars else {
            throw RequestRejection(
                code: .invalidField,
                field: "ref_prompt",
                message: "is \(length) Unicode scalars long; the limit is \(limits.maxPromptScalars)"
            )
        }
        if let control = prompt.unicodeScalars.first(where: Self.isForbiddenControl) {
            throw RequestRejection(
                code: .invalidField,
                field: "ref_prompt",
                message: "contains the control character U+\(String(control.value, radix: 16, uppercase: true).leftPadded(to: 4)); only tab and line breaks are allowed"
            )
        }
        return prompt
    }

    /// C0 and C1 controls other than tab, line feed and carriage return.
    private static func isForbiddenControl(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0x09, 0x0A, 0x0D: false
        case 0x00...0x1F, 0x7F...0x9F: true
        default: false
        }
    }

    private func validateImages(_ value: JSONValue?) throws(RequestRejection) -> [String] {
        guard let value else { return [] }
        guard case .array(let elements) = value else {
            throw RequestRejection(code: .invalidField, field: "ref_img_url", message: "must be an array of URL strings, not \(value.typeDescription)")
        }
        guard elements.count <= limits.maxReferenceImages else {
            throw RequestRejection(
                code: .invalidField,
                field: "ref_img_url",
                message: "has \(elements.count) entries; at most \(limits.maxReferenceImages) reference images are allowed"
            )
        }
        var urls: [String] = []
        for (index, element) in elements.enumerated() {
            let field = "ref_img_url[\(index)]"
            guard case .string(let url) = element else {
                throw RequestRejection(code: .invalidField, field: field, message: "must be a URL string, not \(element.typeDescription)")
            }
            if let problem = Self.urlProblem(url, maxBytes: limits.maxURLBytes) {
                throw RequestRejection(code: .invalidField, field: field, message: problem)
            }
            urls.append(url)
        }
        return urls
    }

    /// Why `url` is not an absolute http(s) URL with a host, or nil when it is.
    static func urlProblem(_ url: String, maxBytes: Int) -> String? {
        guard url.utf8.count <= maxBytes else { return "is longer than \(maxBytes) bytes" }
        guard !url.unicodeScalars.contains(where: { $0.properties.isWhitespace || $0.value < 0x20 || (0x7F...0x9F).contains($0.value) }) else {
            return "must not contain spaces or control characters"
        }
        let lower = url.lowercased()
        let rest: Substring
        if lower.hasPrefix("https://") {
            rest = url.dropFirst(8)
        } else if lower.hasPrefix("http://") {
            rest = url.dropFirst(7)
        } else {
            return "must be an absolute http:// or https:// URL"
        }
        let authority = rest.prefix(while: { $0 != "/" && $0 != "?" && $0 != "#" })
        let hostAndPort = authority.split(separator: "@", omittingEmptySubsequences: false).last ?? ""
        let host: Substring
        if hostAndPort.hasPrefix("[") {
            guard let close = hostAndPort.firstIndex(of: "]") else { return "has an unterminated IPv6 host" }
            host = hostAndPort[hostAndPort.index(after: hostAndPort.startIndex)..<close]
        } else {
            host = hostAndPort.prefix(while: { $0 != ":" })
        }
        guard !host.isEmpty else { return "must name a host" }
        return nil
    }

    private static func integer(_ value: JSONValue?, field: String, allowed: [Int], default defaultValue: Int) throws(RequestRejection) -> Int {
        guard let value else { return defaultValue }
        let choices = allowed.map(String.init).joined(separator: " or ")
        guard case .number(let number) = value, number.isInteger else {
            throw RequestRejection(code: .invalidField, field: field, message: "must be the JSON integer \(choices), not \(value.typeDescription)")
        }
        guard let int = number.intValue, allowed.contains(int) else {
            throw RequestRejection(code: .invalidField, field: field, message: "must be \(choices), not \(ContractText.quoted(number.literal).dropFirst().dropLast())")
        }
        return int
    }

    private static func string(_ value: JSONValue?, field: String, allowed: [String], default defaultValue: String) throws(RequestRejection) -> String {
        guard let value else { return defaultValue }
        let choices = allowed.map { "\"\($0)\"" }.joined(separator: ", ")
        guard case .string(let string) = value else {
            throw RequestRejection(code: .invalidField, field: field, message: "must be one of the strings \(choices), not \(value.typeDescription)")
        }
        guard allowed.contains(string) else {
            throw RequestRejection(code: .invalidField, field: field, message: "must be one of \(choices), not \(ContractText.quoted(string))")
        }
        return string
    }
}

extension String {
    fileprivate func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}
