import Chanjing
import Ledger
import VideoContract

// What makes two submits the same request: the body a request is submitted with, the hash the
// ledger keeps of it, and whether a task in Chanjing's list could have come from it.

extension VideoRequest {
    /// The Chanjing submit body for this request.
    var submitBody: SubmitTaskRequest {
        SubmitTaskRequest(
            prompt: prompt,
            referenceImageURLs: referenceImageURLs,
            creationType: creationType,
            aspectRatio: aspectRatio,
            qualityMode: qualityMode,
            videoDuration: videoDuration,
            modelCode: modelCode
        )
    }
}

extension SubmitTaskRequest {
    /// A stable 64-bit FNV-1a hash of the body's fields, as the ledger keeps it: a different
    /// body under the same `request_id` is a conflict. Not a security measure. (Hashed field by
    /// field, each ended by a 0 byte, rather than through a JSON encoder: this runs for every
    /// request.)
    var ledgerHash: String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        func mix(_ text: String) {
            for byte in text.utf8 {
                hash ^= UInt64(byte)
                hash = hash &* 0x0000_0100_0000_01b3
            }
            hash ^= 0
            hash = hash &* 0x0000_0100_0000_01b3
        }
        mix(prompt)
        mix(String(referenceImageURLs.count))
        referenceImageURLs.forEach(mix)
        mix(String(creationType))
        mix(aspectRatio)
        mix(qualityMode)
        mix(String(videoDuration))
        mix(modelCode)
        return LedgerEntry.hashText(hash)
    }
}

extension CreationTask {
    /// Whether this task could have been created by submitting `request`: the prompt must be
    /// present and equal; every other parameter Chanjing reports must agree.
    func matches(_ request: SubmitTaskRequest) -> Bool {
        guard let prompt = motionInfo?.prompt, prompt == request.prompt else { return false }
        if let type, type != request.creationType { return false }
        if let modelCode, modelCode != request.modelCode { return false }
        if let aspect = aspectRatio ?? motionInfo?.aspectRatio, aspect != request.aspectRatio { return false }
        if let quality = motionInfo?.qualityMode, quality != request.qualityMode { return false }
        if let duration = motionInfo?.videoDuration, duration != request.videoDuration { return false }
        if let images = referenceImageURLs, !(images.isEmpty && request.referenceImageURLs.isEmpty), images != request.referenceImageURLs { return false }
        return true
    }
}
