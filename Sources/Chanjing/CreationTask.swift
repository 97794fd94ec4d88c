/// A creation task as Chanjing reports it (`GET /open/v1/ai_creation/task`, task page lists).
/// Fields beyond the documented example are optional: Chanjing may omit them.
public struct CreationTask: Sendable, Codable, Equatable {
    public var uniqueID: String
    /// Unix seconds.
    public var createTime: Int64?
    public var type: Int?
    /// `Queued`, `Ready`, `Generating`, `Success`, `Error` (Chanjing's poller also treats `Fail` as failure).
    public var progressDescription: String?
    public var errorMessage: String?
    public var outputURLs: [String]?
    public var modelCode: String?
    public var aspectRatio: String?
    public var referenceImageURLs: [String]?
    /// The video parameters the task was created with.
    public var motionInfo: MotionInfo?

    /// The video parameters of a task (`motion_info`). Every field is optional: beyond the
    /// documented example, what Chanjing fills in is UNCONFIRMED.
    public struct MotionInfo: Sendable, Codable, Equatable {
        public var prompt: String?
        public var qualityMode: String?
        public var videoDuration: Int?
        public var aspectRatio: String?

        public init(prompt: String? = nil, qualityMode: String? = nil, videoDuration: Int? = nil, aspectRatio: String? = nil) {
            self.prompt = prompt
            self.qualityMode = qualityMode
            self.videoDuration = videoDuration
            self.aspectRatio = aspectRatio
        }

        enum CodingKeys: String, CodingKey {
            case prompt = "ref_prompt"
            case qualityMode = "quality_mode"
            case videoDuration = "video_duration"
            case aspectRatio = "aspect_ratio"
        }
    }

    public init(
        uniqueID: String,
        createTime: Int64? = nil,
        type: Int? = nil,
        progressDescription: String? = nil,
        errorMessage: String? = nil,
        outputURLs: [String]? = nil,
        modelCode: String? = nil,
        aspectRatio: String? = nil,
        referenceImageURLs: [String]? = nil
    ) {
        self.uniqueID = uniqueID
        self.createTime = createTime
        self.type = type
        self.progressDescription = progressDescription
        self.errorMessage = errorMessage
        self.outputURLs = outputURLs
        self.modelCode = modelCode
        self.aspectRatio = aspectRatio
        self.referenceImageURLs = referenceImageURLs
    }

    enum CodingKeys: String, CodingKey {
        case uniqueID = "unique_id"
        case createTime = "create_time"
        case type
        case progressDescription = "progress_desc"
        case errorMessage = "err_msg"
        case outputURLs = "output_url"
        case modelCode = "model_code"
        case aspectRatio = "aspect_ratio"
        case referenceImageURLs = "ref_img_url"
        case motionInfo = "motion_info"
    }
}
