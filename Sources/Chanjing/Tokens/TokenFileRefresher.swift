import Foundation
import Logging

/// Keeps a token file fresh for a whole worker pool, as the only process that fetches tokens
/// for the app_id: Chanjing invalidates an app's previous token on every fetch, so workers that
/// each fetched their own would keep invalidating each other. Workers read the file
/// (``FileTokenSource``); after a 10400 they wait for the next token to appear there.
public struct TokenFileRefresher: Sendable {
    let client: ChanjingClient
    let appID: String
    let secretKey: String
    let path: String
    let refreshMargin: TimeInterval
    let logger: Logger
    let onRefresh: TokenRefreshObserver

    /// - Parameter refreshMargin: how long before expiry to fetch the next token (at most a tenth
    ///   of a token's lifetime); leave time for the file to reach every worker (a mounted
    ///   Kubernetes Secret takes about a minute).
    /// - Parameter onRefresh: told of every token written (`true`) and every failed fetch or write.
    public init(
        client: ChanjingClient, appID: String, secretKey: String, path: String, refreshMargin: TimeInterval = 600, logger: Logger,
        onRefresh: @escaping TokenRefreshObserver = { _ in }
    ) {
        self.client = client
        self.appID = appID
        self.secretKey = secretKey
        self.path = path
        self.refreshMargin = refreshMargin
        self.logger = logger
        self.onRefresh = onRefresh
    }

    /// Fetches and writes tokens until cancelled.
    public func run() async {
        var failures = 0
        while !Task.isCancelled {
            let wait: Duration
            do {
                let token = try await client.fetchAccessToken(appID: appID, secretKey: secretKey, refreshMargin: refreshMargin)
                try write(token.value)
                failures = 0
                onRefresh(true)
                logger.info("Wrote a fresh Chanjing access token", metadata: ["file": "\(path)", "expires_at": "\(token.expiresAt)"])
                wait = .milliseconds(Int64(max(0.5, token.refreshAt.timeIntervalSinceNow) * 1000))
            } catch {
                failures += 1
                onRefresh(false)
                wait = .seconds(min(300, 2 << min(failures, 8)))
                logger.error("Cannot refresh the Chanjing access token; trying again in \(wait): \(error)", metadata: ["file": "\(path)"])
            }
            do {
                try await Task.sleep(for: wait)
            } catch {
                return
            }
        }
    }

    /// Replaces the file atomically (readers never see a partial token), readable by its owner only.
    func write(_ token: String) throws {
        let temporary = path + ".tmp-\(ProcessInfo.processInfo.processIdentifier)"
        guard FileManager.default.createFile(atPath: temporary, contents: Data((token + "\n").utf8), attributes: [.posixPermissions: 0o600]) else {
            throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: temporary])
        }
        guard rename(temporary, path) == 0 else {
            let code = errno
            try? FileManager.default.removeItem(atPath: temporary)
            throw POSIXError(POSIXErrorCode(rawValue: code) ?? .EIO)
        }
    }
}
