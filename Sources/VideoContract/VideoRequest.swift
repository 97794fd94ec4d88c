/// A validated video request: every field present, checked and defaulted.
public struct VideoRequest: Sendable, Equatable {
    /// The caller's `request_id`, or `<topic>-<partition>-<offset>` when it gave none.
    public var requestID: String
    /// `ref_prompt`, as sent (not trimmed).
    public var prompt: String
    /// `ref_img_url`; empty means text-to-video.
    public var referenceImageURLs: [String]
    public var creationType: Int
    public var aspectRatio: String
    public var qualityMode: String
    public var videoDuration: Int
    public var modelCode: String

    public init(
        requestID: String,
        prompt: String,
        referenceImageURLs: [String] = [],
        creationType: Int = KlingOptions.defaultCreationType,
        aspectRatio: String = KlingOptions.defaultAspectRatio,
        qualityMode: String = KlingOptions.defaultQualityMode,
        videoDuration: Int = KlingOptions.defaultVideoDuration,
        modelCode: String = KlingOptions.defaultModelCode
    ) {
        self.requestID = requestID
        self.prompt = prompt
        self.referenceImageURLs = referenceImageURLs
        self.creationType = creationType
        self.aspectRatio = aspectRatio
        self.qualityMode = qualityMode
        self.videoDuration = videoDuration
        self.modelCode = modelCode
    }
}
