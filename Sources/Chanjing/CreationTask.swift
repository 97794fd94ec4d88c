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
    }
}
