/// The body of `POST /open/v1/ai_creation/task/submit` for a Kling v2.5 Turbo video.
public struct SubmitTaskRequest: Sendable, Codable, Equatable {
    public var prompt: String
    /// Reference images; empty means text-to-video and the field is left out.
    public var referenceImageURLs: [String]
    public var creationType: Int
    public var aspectRatio: String
    public var qualityMode: String
    public var videoDuration: Int
    public var modelCode: String

    public init(
        prompt: String,
        referenceImageURLs: [String],
        creationType: Int,
        aspectRatio: String,
        qualityMode: String,
        videoDuration: Int,
        modelCode: String
    ) {
        self.prompt = prompt
        self.referenceImageURLs = referenceImageURLs
        self.creationType = creationType
        self.aspectRatio = aspectRatio
        self.qualityMode = qualityMode
        self.videoDuration = videoDuration
        self.modelCode = modelCode
    }

    enum CodingKeys: String, CodingKey {
        case prompt = "ref_prompt"
        case referenceImageURLs = "ref_img_url"
        case creationType = "creation_type"
        case aspectRatio = "aspect_ratio"
        case qualityMode = "quality_mode"
        case videoDuration = "video_duration"
        case modelCode = "model_code"
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        prompt = try container.decode(String.self, forKey: .prompt)
        referenceImageURLs = try container.decodeIfPresent([String].self, forKey: .referenceImageURLs) ?? []
        creationType = try container.decode(Int.self, forKey: .creationType)
        aspectRatio = try container.decode(String.self, forKey: .aspectRatio)
        qualityMode = try container.decode(String.self, forKey: .qualityMode)
        videoDuration = try container.decode(Int.self, forKey: .videoDuration)
        modelCode = try container.decode(String.self, forKey: .modelCode)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(prompt, forKey: .prompt)
        if !referenceImageURLs.isEmpty { try container.encode(referenceImageURLs, forKey: .referenceImageURLs) }
        try container.encode(creationType, forKey: .creationType)
        try container.encode(aspectRatio, forKey: .aspectRatio)
        try container.encode(qualityMode, forKey: .qualityMode)
        try container.encode(videoDuration, forKey: .videoDuration)
        try container.encode(modelCode, forKey: .modelCode)
    }
}

/// Chanjing's answer to a successful submit.
public struct SubmitTaskResponse: Sendable, Equatable {
    /// The creation's `unique_id`.
    public var creationID: String
    public var traceID: String?
}
