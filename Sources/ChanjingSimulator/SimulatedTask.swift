import Foundation

/// A task the simulator accepted, with the parameters it was submitted with.
public struct SimulatedTask: Sendable, Equatable {
    public var uniqueID: String
    public var createdAt: Date
    public var prompt: String
    public var referenceImageURLs: [String]
    public var aspectRatio: String
    public var qualityMode: String
    public var videoDuration: Int
    public var modelCode: String
    /// Seconds from creation to the end of rendering.
    public var renderSeconds: Double
    /// How rendering ends.
    public var ending: RenderEnding

    /// How a simulated render ends.
    public enum RenderEnding: Sendable, Equatable {
        /// `Success` with one `output_url`.
        case success
        /// `Success` without any `output_url` (seen by integrators, UNCONFIRMED by Chanjing).
        case successWithoutOutput
        /// `Error` or `Fail` (`progress_desc`) with this `err_msg`.
        case failure(progress: String, message: String)
    }

    /// `progress_desc` at `date`: `Queued` for the first tenth of the render, `Generating` until
    /// it ends, then the ending's.
    public func progress(at date: Date) -> String {
        switch date.timeIntervalSince(createdAt) / max(0.001, renderSeconds) {
        case ..<0.1: "Queued"
        case ..<1: "Generating"
        default:
            switch ending {
            case .success, .successWithoutOutput: "Success"
            case .failure(let progress, _): progress
            }
        }
    }

    /// The video's URL, once rendered successfully.
    public func outputURLs(at date: Date) -> [String] {
        guard ending == .success, progress(at: date) == "Success" else { return [] }
        return ["https://simulator.invalid/videos/\(uniqueID).mp4"]
    }
}

/// Counters tests and operators read from the simulator (also served at `GET /_simulator/stats`).
public struct SimulatorStats: Sendable, Codable, Equatable {
    public var tokenFetches = 0
    public var submitCalls = 0
    public var tasksCreated = 0
    public var rejectedToken = 0
    public var throttled = 0
    public var injectedFailures = 0
    public var invalidParameters = 0
    public var balanceRefusals = 0
    /// Task reads: `task/page` calls with a `unique_ids` filter, and the most IDs one carried.
    public var taskQueries = 0
    public var mostIDsQueried = 0
    /// Submits being answered now, and the most there were at once.
    public var submitsInProgress = 0
    public var peakConcurrentSubmits = 0

    enum CodingKeys: String, CodingKey {
        case tokenFetches = "token_fetches"
        case submitCalls = "submit_calls"
        case tasksCreated = "tasks_created"
        case rejectedToken = "rejected_token"
        case throttled
        case injectedFailures = "injected_failures"
        case invalidParameters = "invalid_parameters"
        case balanceRefusals = "balance_refusals"
        case taskQueries = "task_queries"
        case mostIDsQueried = "most_ids_queried"
        case submitsInProgress = "submits_in_progress"
        case peakConcurrentSubmits = "peak_concurrent_submits"
    }
}
