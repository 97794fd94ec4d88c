import Foundation
import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle

/// Serves a ``ChanjingSimulator`` over HTTP with Hummingbird.
public enum SimulatorServer {
    /// The Hummingbird application serving `simulator` on `host:port` (port 0 picks a free one;
    /// `onListening` receives the bound port).
    public static func application(
        simulator: ChanjingSimulator,
        host: String = "127.0.0.1",
        port: Int = 0,
        logger: Logger,
        onListening: @escaping @Sendable (Int) async -> Void = { _ in }
    ) -> some ApplicationProtocol {
        let router = Router()
        router.post("/open/v1/access_token") { request, _ in
            try await reply(simulator.answerAccessToken(body: body(of: request)))
        }
        router.post("/open/v1/ai_creation/task/submit") { request, _ in
            try await reply(simulator.submit(token: token(of: request), body: body(of: request)))
        }
        router.get("/open/v1/ai_creation/task") { request, _ in
            reply(simulator.task(token: token(of: request), uniqueID: request.uri.queryParameters.get("unique_id")))
        }
        router.post("/open/v1/ai_creation/task/page") { request, _ in
            try await reply(simulator.taskPage(token: token(of: request), body: body(of: request)))
        }
        router.get("/_simulator/stats") { _, _ in
            let data = try JSONEncoder().encode(simulator.stats)
            return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(data: data)))
        }
        return Application(
            router: router,
            configuration: .init(address: .hostname(host, port: port), serverName: "chanjing-simulator"),
            onServerRunning: { channel in await onListening(channel.localAddress?.port ?? port) },
            logger: logger
        )
    }

    /// Starts the simulator in this process on a free loopback port.
    public static func start(_ simulator: ChanjingSimulator, logger: Logger) async throws -> RunningSimulator {
        let (ports, continuation) = AsyncStream.makeStream(of: Int.self)
        let app = application(simulator: simulator, logger: logger) { port in
            continuation.yield(port)
            continuation.finish()
        }
        // Run inside a service group so that stop() is a graceful shutdown, not a cancellation.
        let group = ServiceGroup(configuration: .init(services: [app], logger: logger))
        let task = Task { try await group.run() }
        var iterator = ports.makeAsyncIterator()
        guard let port = await iterator.next() else {
            _ = try await task.value
            throw SimulatorStartError()
        }
        return RunningSimulator(port: port, group: group, task: task)
    }

    private static func body(of request: Request) async throws -> [UInt8] {
        Array(buffer: try await request.body.collect(upTo: 1 << 20))
    }

    private static func token(of request: Request) -> String? {
        request.headers.first { $0.name.canonicalName == "access_token" }?.value
    }

    private static func reply(_ reply: ChanjingSimulator.Reply) -> Response {
        Response(
            status: HTTPResponse.Status(code: reply.status),
            headers: [.contentType: "application/json"],
            body: .init(byteBuffer: ByteBuffer(data: reply.body))
        )
    }
}

/// The simulator could not start listening.
public struct SimulatorStartError: Error, CustomStringConvertible {
    public var description: String { "the Chanjing simulator stopped before it was listening" }
}

/// A simulator started with ``SimulatorServer/start(_:logger:)``.
public struct RunningSimulator: Sendable {
    public let port: Int
    let group: ServiceGroup
    let task: Task<Void, any Error>

    /// `http://127.0.0.1:<port>`, the base URL to give the Chanjing client.
    public var baseURL: String { "http://127.0.0.1:\(port)" }

    /// Stops serving and waits until the server has closed.
    public func stop() async {
        await group.triggerGracefulShutdown()
        _ = try? await task.value
    }
}
