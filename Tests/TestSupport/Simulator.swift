import Chanjing
import ChanjingSimulator

/// Runs `body` with a simulator on a free port and a client pointed at it; stops both.
public func withSimulator(
    _ configuration: SimulatorConfiguration = SimulatorConfiguration(),
    _ body: (ChanjingSimulator, ChanjingClient) async throws -> Void
) async throws {
    let simulator = ChanjingSimulator(configuration: configuration)
    let server = try await SimulatorServer.start(simulator, logger: TestLogging.logger())
    let client = try ChanjingClient(configuration: .init(baseURL: server.baseURL, requestTimeout: .seconds(5)))
    do {
        try await body(simulator, client)
    } catch {
        try await client.shutdown()
        await server.stop()
        throw error
    }
    try await client.shutdown()
    await server.stop()
}
