import AsyncHTTPClient
import Foundation
import Logging
import NIOCore

/// Chanjing's open API: submit a Kling v2.5 Turbo task and read tasks back.
///
/// Owns its `HTTPClient` (one keep-alive connection pool sized to the calls in flight); call
/// ``shutdown()`` when done.
public final class ChanjingClient: Sendable {
    /// How the client reaches Chanjing.
    public struct Configuration: Sendable {
        /// e.g. `https://open-api.chanjing.cc`; the `/open/v1/...` paths are appended.
        public var baseURL: String
        public var connectTimeout: Duration
        /// Bound on one whole call, from connecting to the last byte of the answer.
        public var requestTimeout: Duration
        /// Connections kept per host: size it to the calls in flight.
        public var maxConnections: Int
        /// An HTTP(S) proxy, as `HTTPS_PROXY` gives it (`http://host:port`).
        public var proxyURL: String?

        public init(
            baseURL: String,
            connectTimeout: Duration = .seconds(5),
            requestTimeout: Duration = .seconds(20),
            maxConnections: Int = 64,
            proxyURL: String? = nil
        ) {
            self.baseURL = baseURL
            self.connectTimeout = connectTimeout
            self.requestTimeout = requestTimeout
            self.maxConnections = maxConnections
            self.proxyURL = proxyURL
        }
    }

    let transport: ChanjingTransport
    private let httpClient: HTTPClient

    /// Creates the client. Throws ``ChanjingError/transport(_:requestSent:)`` for a proxy URL
    /// that cannot be used.
    public init(configuration: Configuration) throws(ChanjingError) {
        var http = HTTPClient.Configuration()
        http.timeout = .init(connect: .nanoseconds(Int64(configuration.connectTimeout.nanoseconds)))
        http.connectionPool = .init(idleTimeout: .seconds(60), concurrentHTTP1ConnectionsPerHostSoftLimit: max(1, configuration.maxConnections))
        http.redirectConfiguration = .disallow
        // The worker records no spans (it passes `traceparent` on to results): with no tracer a
        // call skips a no-op span's URL parsing and attributes, 2% of the worker's CPU in the
        // profile of docs/benchmarks.md (scenario 8).
        http.tracing.tracer = nil
        if let proxyURL = configuration.proxyURL, !proxyURL.isEmpty {
            guard let url = URL(string: proxyURL), let host = url.host, !host.isEmpty else {
                throw .transport("the proxy URL \(proxyURL) has no host", requestSent: false)
            }
            http.proxy = .server(host: host, port: url.port ?? 80)
        }
        let httpClient = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: http)
        self.httpClient = httpClient
        var baseURL = configuration.baseURL
        while baseURL.hasSuffix("/") { baseURL.removeLast() }
        self.transport = ChanjingTransport(httpClient: httpClient, baseURL: baseURL, requestTimeout: configuration.requestTimeout)
    }

    /// Submits a video task with `token`; returns the creation ID.
    ///
    /// On 10400/10401 the caller should tell its token source (``AccessTokenSource/tokenRejected(_:)``)
    /// and retry; ``submit(_:tokens:)`` and ``submit(_:token:reportingTo:)`` do that bookkeeping.
    public func submit(_ task: SubmitTaskRequest, token: String) async throws(ChanjingError) -> SubmitTaskResponse {
        let (creationID, traceID) = try await transport.post(
            "/open/v1/ai_creation/task/submit", body: task, accessToken: token, as: String.self
        )
        return SubmitTaskResponse(creationID: creationID, traceID: traceID)
    }

    /// Submits with a token from `tokens`, reporting a refused token back to it so that the
    /// next call uses a fresh one.
    public func submit(_ task: SubmitTaskRequest, tokens: any AccessTokenSource) async throws(ChanjingError) -> SubmitTaskResponse {
        try await submit(task, token: try await tokens.currentToken(), reportingTo: tokens)
    }

    /// Submits with `token`, taken from `tokens` beforehand, and reports Chanjing's verdict on it
    /// back to `tokens`. For callers that must not wait for a token between deciding to call and
    /// calling (the worker records an intent right before each call).
    public func submit(_ task: SubmitTaskRequest, token: String, reportingTo tokens: any AccessTokenSource) async throws(ChanjingError) -> SubmitTaskResponse {
        try await reporting(token, to: tokens) { token throws(ChanjingError) in try await self.submit(task, token: token) }
    }

    /// One task by its creation ID.
    public func task(uniqueID: String, tokens: any AccessTokenSource) async throws(ChanjingError) -> CreationTask {
        try await withToken(tokens) { token throws(ChanjingError) in
            try await self.transport.get(
                "/open/v1/ai_creation/task", query: [("unique_id", uniqueID)], accessToken: token, as: CreationTask.self
            ).0
        }
    }

    /// One page of the account's video tasks (`POST /open/v1/ai_creation/task/page`, type 4, no
    /// `unique_ids` filter). The order is UNCONFIRMED; callers page until `create_time` is old enough.
    public func taskPage(page: Int, pageSize: Int, tokens: any AccessTokenSource) async throws(ChanjingError) -> TaskPage {
        let body = TaskPageRequest(uniqueIDs: [], type: 4, page: page, pageSize: pageSize, isSuccess: false)
        return try await withToken(tokens) { token throws(ChanjingError) in
            try await self.transport.post("/open/v1/ai_creation/task/page", body: body, accessToken: token, as: TaskPage.self).0
        }
    }

    /// The most tasks one ``tasks(_:tokens:)`` call reads (`task/page` takes 50 `unique_ids`).
    public static let maxTasksPerQuery = 50

    /// The tasks among `uniqueIDs` (at most ``maxTasksPerQuery``), read in one `task/page`
    /// call. A task Chanjing does not know is missing from the answer.
    public func tasks(_ uniqueIDs: [String], tokens: any AccessTokenSource) async throws(ChanjingError) -> [CreationTask] {
        precondition(uniqueIDs.count <= Self.maxTasksPerQuery, "task/page takes at most \(Self.maxTasksPerQuery) unique_ids")
        let body = TaskPageRequest(uniqueIDs: uniqueIDs, type: 4, page: 1, pageSize: Self.maxTasksPerQuery, isSuccess: false)
        return try await withToken(tokens) { token throws(ChanjingError) in
            try await self.transport.post("/open/v1/ai_creation/task/page", body: body, accessToken: token, as: TaskPage.self).0.list
        }
    }

    private func withToken<T>(
        _ tokens: any AccessTokenSource,
        _ call: (String) async throws(ChanjingError) -> T
    ) async throws(ChanjingError) -> T {
        try await reporting(try await tokens.currentToken(), to: tokens, call)
    }

    private func reporting<T>(
        _ token: String,
        to tokens: any AccessTokenSource,
        _ call: (String) async throws(ChanjingError) -> T
    ) async throws(ChanjingError) -> T {
        do {
            let answer = try await call(token)
            await tokens.tokenAccepted(token)
            return answer
        } catch {
            if error.disposition == .refreshToken { await tokens.tokenRejected(token) }
            throw error
        }
    }

    /// Fetches a new access token with the app's credentials. This invalidates the app's previous
    /// token everywhere: call it from one place only (a ``CredentialsTokenSource`` or a single
    /// refresher). Refused credentials throw ``ChanjingError/credentialsRefused(_:)``; any other
    /// failure ``ChanjingError/tokenUnavailable(_:)`` (a token fetch creates nothing: always safe).
    public func fetchAccessToken(
        appID: String,
        secretKey: String,
        refreshMargin: TimeInterval = 300,
        now: @Sendable () -> Date = Date.init
    ) async throws(ChanjingError) -> AccessToken {
        do {
            let (payload, _) = try await transport.post(
                "/open/v1/access_token",
                body: AccessTokenRequestBody(appID: appID, secretKey: secretKey),
                accessToken: nil,
                as: AccessTokenPayload.self
            )
            return AccessToken(
                value: payload.accessToken,
                expiresAt: Date(timeIntervalSince1970: TimeInterval(payload.expireIn)),
                fetchedAt: now(),
                refreshMargin: refreshMargin
            )
        } catch {
            switch error.disposition {
            case .retrySafe, .retryAmbiguous, .refreshToken:
                throw .tokenUnavailable(error.description)
            default:
                if case .api(let code, let message, _) = error {
                    throw .credentialsRefused("the access token endpoint answered code \(code): \(message)")
                }
                throw .credentialsRefused(error.description)
            }
        }
    }

    /// Closes the connection pool.
    public func shutdown() async throws {
        try await httpClient.shutdown()
    }
}
