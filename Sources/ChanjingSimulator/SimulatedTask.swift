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
        case submitsInProgress = "submits_in_progress"
        case peakConcurrentSubmits = "peak_concurrent_submits"
    }
}
