import Foundation
import Synchronization

/// A token read from a file that something else keeps fresh (`CHANJING_ACCESS_TOKEN_FILE`), for
/// example a mounted Kubernetes Secret written by a single refresher. The file is re-read when
/// it changes; after a rejection the source waits (up to `replacementWait`) for a new token
/// rather than fetching its own, which would invalidate every other worker's token.
public final class FileTokenSource: AccessTokenSource {
    private let path: String
    private let replacementWait: Duration
    private struct State {
        var rejected: Set<String> = []
        var last: String?
    }
    private let state = Mutex(State())
    private let onRefresh: TokenRefreshObserver

    /// `onRefresh` is told whenever a new token appears in the file (`true`), and whenever no
    /// usable one is there: the file cannot be read or is empty, or its token was refused and no
    /// replacement appeared in time (`false`).
    public init(path: String, replacementWait: Duration = .seconds(5), onRefresh: @escaping TokenRefreshObserver = { _ in }) {
        self.path = path
        self.replacementWait = replacementWait
        self.onRefresh = onRefresh
    }

    public func currentToken() async throws(ChanjingError) -> String {
        let deadline = ContinuousClock.now + replacementWait
        while true {
            let token: String
            do {
                token = try readToken()
            } catch {
                onRefresh(false)
                throw error
            }
            let (usable, new) = state.withLock { state in
                defer { state.last = token }
                return (!state.rejected.contains(token), state.last != token)
            }
            if new { onRefresh(true) }
            if usable { return token }
            guard ContinuousClock.now < deadline else {
                onRefresh(false)
                throw .credentialsRefused("Chanjing refused the access token in \(path) and no replacement appeared within \(replacementWait)")
            }
            do {
                try await Task.sleep(for: .milliseconds(200))
            } catch {
                throw .tokenUnavailable("cancelled while waiting for a new token in \(path)")
            }
        }
    }

    public func tokenRejected(_ token: String) async {
        state.withLock { _ = $0.rejected.insert(token) }
    }

    public var hasUsableToken: Bool {
        guard let token = try? readToken() else { return false }
        return !state.withLock { $0.rejected.contains(token) }
    }

    private func readToken() throws(ChanjingError) -> String {
        let contents: String
        do {
            contents = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw .tokenUnavailable("cannot read the token file \(path): \(error.localizedDescription)")
        }
        let token = contents.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !token.isEmpty else { throw .tokenUnavailable("the token file \(path) is empty") }
        return token
    }
}
