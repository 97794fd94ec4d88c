/// The configurable bounds a request must stay within.
public struct RequestLimits: Sendable, Equatable {
    /// Largest accepted message value, in bytes.
    public var maxMessageBytes: Int
    /// Most Unicode scalars in `ref_prompt`.
    public var maxPromptScalars: Int
    /// Most entries in `ref_img_url`.
    public var maxReferenceImages: Int
    /// Longest accepted reference image URL, in UTF-8 bytes.
    public var maxURLBytes: Int
    /// Deepest nesting of arrays and objects; the top-level object is depth 1.
    public var maxDepth: Int

    public init(
        maxMessageBytes: Int = 1_048_576,
        maxPromptScalars: Int = 2_500,
        maxReferenceImages: Int = 4,
        maxURLBytes: Int = 2_048,
        maxDepth: Int = 32
    ) {
        self.maxMessageBytes = maxMessageBytes
        self.maxPromptScalars = maxPromptScalars
        self.maxReferenceImages = maxReferenceImages
        self.maxURLBytes = maxURLBytes
        self.maxDepth = maxDepth
    }

    /// The defaults of the request contract.
    public static let `default` = RequestLimits()
}
