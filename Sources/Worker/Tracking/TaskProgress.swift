import Chanjing
import VideoContract

/// What a task read from Chanjing says about its end (`progress_desc` and `output_url`).
enum TaskProgress: Equatable {
    /// `Queued`, `Ready` or `Generating`.
    case running
    /// A `progress_desc` this version does not know (or none): treated as still running.
    case unknown(String?)
    case succeeded(videoURLs: [String])
    /// `Error` or `Fail` (`generationFailed`), or `Success` without a URL (`noOutput`).
    case failed(VideoCompletion.ErrorCode, chanjingMessage: String?)

    init(_ task: CreationTask) {
        let message = task.errorMessage.flatMap { $0.isEmpty ? nil : $0 }
        switch task.progressDescription {
        case "Queued", "Ready", "Generating":
            self = .running
        case "Success":
            let urls = (task.outputURLs ?? []).filter { !$0.isEmpty }
            self = urls.isEmpty ? .failed(.noOutput, chanjingMessage: message) : .succeeded(videoURLs: urls)
        case "Error", "Fail":
            // Chanjing's own poller treats both as final.
            self = .failed(.generationFailed, chanjingMessage: message)
        default:
            self = .unknown(task.progressDescription)
        }
    }
}
