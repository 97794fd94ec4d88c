import Chanjing
import ChanjingSimulator
import Foundation
import Synchronization
import Testing
import TestSupport

@Suite("Access tokens")
struct AccessTokenTests {
    @Test("refresh time: ahead of expiry, and within a short lifetime")
    func refreshAt() {
        let now = Date(timeIntervalSince1970: 1_000_000)
        let day = AccessToken(value: "t", expiresAt: now.addingTimeInterval(86_400), fetchedAt: now, refreshMargin: 300)
        #expect(day.refreshAt == now.addingTimeInterval(86_100))
        let short = AccessToken(value: "t", expiresAt: now.addingTimeInterval(10), fetchedAt: now, refreshMargin: 300)
        #expect(short.refreshAt == now.addingTimeInterval(9))
        let skewed = AccessToken(value: "t", expiresAt: now.addingTimeInterval(-5), fetchedAt: now, refreshMargin: 300)
        #expect(skewed.refreshAt == now.addingTimeInterval(60))
    }

    @Test("no token is fetched until a call needs one; concurrent callers share one fetch", .timeLimit(.minutes(1)))
    func singleFlight() async throws {
        try await withSimulator { simulator, client in
            let source = CredentialsTokenSource(appID: "sim-app", secretKey: "sim-secret", client: client, logger: TestLogging.logger())
            #expect(simulator.stats.tokenFetches == 0)
            let tokens = try await withThrowingTaskGroup(of: String.self) { group in
                for _ in 0..<50 { group.addTask { try await source.currentToken() } }
                return try await group.reduce(into: Set<String>()) { $0.insert($1) }
            }
            #expect(tokens.count == 1)
            #expect(simulator.stats.tokenFetches == 1)
            #expect(await source.fetchCount == 1)
            // Cached afterwards.
            _ = try await source.currentToken()
            #expect(simulator.stats.tokenFetches == 1)
        }
    }

    @Test("an expiring token is refreshed ahead of expiry", .timeLimit(.minutes(1)))
    func refreshAhead() async throws {
        try await withSimulator(SimulatorConfiguration(tokenLifetime: .seconds(2))) { simulator, client in
            let source = CredentialsTokenSource(appID: "sim-app", secretKey: "sim-secret", client: client, logger: TestLogging.logger())
            let first = try await source.currentToken()
            #expect(try await source.currentToken() == first)
            try await Task.sleep(for: .milliseconds(2800))  // past the refresh point (lifetime 2-3 s: expire_in is whole seconds)
            let second = try await source.currentToken()
            #expect(second != first)
            #expect(simulator.stats.tokenFetches == 2)
        }
    }

    @Test("a rejected token is replaced once, however many callers saw the rejection", .timeLimit(.minutes(1)))
    func rejection() async throws {
        try await withSimulator { simulator, client in
            let source = CredentialsTokenSource(appID: "sim-app", secretKey: "sim-secret", client: client, logger: TestLogging.logger())
            let first = try await source.currentToken()
            for _ in 0..<5 { await source.tokenRejected(first) }
            let second = try await source.currentToken()
            #expect(second != first)
            await source.tokenRejected(first)  // a late report about the old token changes nothing
            #expect(try await source.currentToken() == second)
            #expect(simulator.stats.tokenFetches == 2)
        }
    }

    @Test("refused credentials are reported as such, without the secret", .timeLimit(.minutes(1)))
    func refusedCredentials() async throws {
        try await withSimulator { _, client in
            let source = CredentialsTokenSource(appID: "sim-app", secretKey: "wrong-secret-123", client: client, logger: TestLogging.logger())
            let error = await failure { () throws(ChanjingError) in _ = try await source.currentToken() }
            #expect(error?.disposition == .credentialsRefused)
            #expect(error?.description.contains("wrong-secret-123") == false)
        }
    }

    @Test("a fixed token is used until Chanjing refuses it")
    func staticToken() async throws {
        let source = StaticTokenSource(token: "fixed")
        #expect(try await source.currentToken() == "fixed")
        await source.tokenRejected("fixed")
        await #expect(throws: ChanjingError.self) { try await source.currentToken() }
    }

    /// What a token source told its observer, in order.
    final class Refreshes: Sendable {
        private let seen = Mutex<[Bool]>([])
        var all: [Bool] { seen.withLock { $0 } }
        @Sendable func observe(_ succeeded: Bool) { seen.withLock { $0.append(succeeded) } }
    }

    @Test("a token file is re-read, and a refused token waits for its replacement; the observer hears of new tokens and of failures", .timeLimit(.minutes(1)))
    func tokenFile() async throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("token-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        let refreshes = Refreshes()
        await #expect(throws: ChanjingError.self) { try await FileTokenSource(path: path, onRefresh: refreshes.observe).currentToken() }
        #expect(refreshes.all == [false], "a missing file is a failed refresh")
        try "first\n".write(toFile: path, atomically: true, encoding: .utf8)
        let source = FileTokenSource(path: path, replacementWait: .seconds(5), onRefresh: refreshes.observe)
        #expect(try await source.currentToken() == "first")
        await source.tokenRejected("first")
        let replacement = Task {
            try await Task.sleep(for: .milliseconds(300))
            try "second".write(toFile: path, atomically: true, encoding: .utf8)
        }
        #expect(try await source.currentToken() == "second")
        try await replacement.value

        #expect(refreshes.all == [false, true, true])

        let impatient = FileTokenSource(path: path, replacementWait: .milliseconds(300), onRefresh: refreshes.observe)
        await impatient.tokenRejected("second")
        let error = await failure { () throws(ChanjingError) in _ = try await impatient.currentToken() }
        #expect(error?.disposition == .credentialsRefused)
        #expect(refreshes.all == [false, true, true, true, false], "a refused token with no replacement in time is a failed refresh")
    }
}
