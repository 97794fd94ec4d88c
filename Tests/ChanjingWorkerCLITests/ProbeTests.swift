import Foundation
import Testing
import TestSupport

/// `chanjing-worker probe`, the image's HEALTHCHECK, as the real binary against a running worker.
@Suite("The health probe command", .serialized)
struct ProbeTests {
    @Test("probe exits 0 while the worker answers /healthz, and 1 with one line once nothing listens", .timeLimit(.minutes(1)))
    func probe() async throws {
        let harness = try await WorkerHarness(partitions: 1)
        try await harness.run(within: 50, "probe") {
            var configuration = harness.configuration
            configuration.httpPort = 0
            let (worker, running) = try await harness.startWorker(configuration)
            let port = try #require(await worker.httpPort())
            let healthy = try await WorkerProcess(arguments: ["probe"], environment: ["HTTP_PORT": "\(port)"]).waitForExit(within: 20)
            #expect(healthy.status == 0, "\(healthy.output)")
            #expect(healthy.output.contains("/healthz: 200"), "\(healthy.output)")
            await worker.shutdown()
            try await running.value
            let gone = try await WorkerProcess(arguments: ["probe", "--port", "\(port)"], environment: [:]).waitForExit(within: 20)
            #expect(gone.status == 1, "\(gone.output)")
            #expect(gone.output.contains("no answer") && gone.output.split(separator: "\n").count == 1, "\(gone.output)")
        }
    }
}
