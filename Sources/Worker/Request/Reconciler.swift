import Chanjing
import Foundation
import Logging

/// What to do with a request whose earlier submit may have created a task (an intent without
/// an outcome, or an ambiguous failure).
public enum ReconcilePolicy: String, Sendable, CaseIterable {
    /// Search Chanjing's task list; adopt a matching task, else submit again.
    case adoptOrResubmit = "adopt-or-resubmit"
    /// Search; adopt a matching task, else end the request `failed` with `outcome_unknown`.
    case adoptOrFail = "adopt-or-fail"
    /// Submit again without searching (may create a duplicate).
    case resubmit
}

/// Searches Chanjing's task list for a task an earlier submit of the same request created.
struct Reconciler: Sendable {
    let client: ChanjingClient
    let tokens: any AccessTokenSource
    /// Tasks created this long before the intent still count (clocks differ).
    let clockSkew: Duration
    let pageSize = 50
    /// Pages read at most: the list's order is UNCONFIRMED, so a search must end somewhere.
    let maxPages = 200

    /// The newest task that matches `body`, was created since `since` (minus the clock skew),
    /// and for which `isClaimed` is false.
    func find(_ body: SubmitTaskRequest, since: Date, isClaimed: (String) -> Bool) async throws(ChanjingError) -> CreationTask? {
        let oldest = Int64((since.timeIntervalSince1970 - clockSkew / .seconds(1)).rounded(.down))
        for page in 1...maxPages {
            let tasks = try await client.taskPage(page: page, pageSize: pageSize, tokens: tokens).list
            if let match = tasks.first(where: { ($0.createTime ?? .max) >= oldest && $0.matches(body) && !isClaimed($0.uniqueID) }) {
                return match
            }
            // Stop once a page holds nothing recent enough (newest first, as observed), or ends the list.
            if tasks.count < pageSize || tasks.allSatisfy({ ($0.createTime ?? .max) < oldest }) { return nil }
        }
        return nil
    }
}
