import Foundation
import Testing
import TestSupport

/// `chanjing-worker demo`, the README's first command, run as the binary: every sample request
/// gets its result and every submitted one its video.
@Suite("The demo")
struct DemoTests {
    @Test("the demo ends with a result for every sample and a completion for every submitted one", .timeLimit(.minutes(2)))
    func demo() async throws {
        let process = try WorkerProcess(arguments: ["demo", "--min-render-seconds", "1", "--max-render-seconds", "2", "--timeout", "80"], environment: [:])
        let (status, output) = await process.waitForExit(within: 100)
        #expect(status == 0, "\(output)")
        #expect(output.contains("Summary: 12 results — 6 submitted, 6 rejected, 0 failed; 6 completions"), "\(output)")
        #expect(output.contains("succeeded") && output.contains("https://simulator.invalid/videos/"), "\(output)")
    }
}
