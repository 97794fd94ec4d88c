// libFuzzer entry point for the worker's real decode-and-validate path (`RequestDecoder`).
// Built by `.ci/fuzz` with `swiftc -sanitize=fuzzer,address` together with the sources of
// Sources/VideoContract, outside the SwiftPM build.

@_cdecl("LLVMFuzzerTestOneInput")
public func requestDecoderFuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    let decoder = RequestDecoder(limits: RequestLimits(maxMessageBytes: 1 << 20))
    switch decoder.decode(bytes, fallbackRequestID: "fuzz-0-0") {
    case .valid(let request):
        // Whatever is accepted must satisfy the contract the worker submits with.
        precondition(!request.prompt.unicodeScalars.allSatisfy(\.properties.isWhitespace))
        precondition(request.prompt.unicodeScalars.count <= decoder.limits.maxPromptScalars)
        precondition(KlingOptions.videoDurations.contains(request.videoDuration))
        precondition(KlingOptions.aspectRatios.contains(request.aspectRatio))
        precondition(request.referenceImageURLs.count <= decoder.limits.maxReferenceImages)
        precondition(!request.requestID.isEmpty)
    case .invalid(let rejection, let requestID):
        // Every refusal names a rule, stays small, and has an identity.
        precondition(!rejection.message.isEmpty && rejection.message.utf8.count < 4096)
        precondition(!requestID.isEmpty)
    }
    return 0
}
