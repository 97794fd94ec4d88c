/// The values Chanjing accepts for a Kling v2.5 Turbo task, in one place: a value Chanjing adds
/// is a one-line change here, and validation, defaults and documentation all follow.
public enum KlingOptions {
    /// `creation_type` values: 4 is video generation.
    public static let creationTypes = [4]
    /// `model_code` values.
    public static let modelCodes = ["kling-v2-5-turbo-normal"]
    /// `aspect_ratio` values (they apply to text-to-video; passed through with reference images).
    public static let aspectRatios = ["16:9", "9:16", "1:1"]
    /// `quality_mode` values.
    public static let qualityModes = ["std", "pro"]
    /// `video_duration` values, in seconds.
    public static let videoDurations = [5, 10]

    public static let defaultCreationType = 4
    public static let defaultModelCode = "kling-v2-5-turbo-normal"
    public static let defaultAspectRatio = "16:9"
    public static let defaultQualityMode = "std"
    public static let defaultVideoDuration = 5
}
