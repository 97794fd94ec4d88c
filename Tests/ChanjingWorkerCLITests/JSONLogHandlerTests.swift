@testable import ChanjingWorkerCLI
import Foundation
import Logging
import Testing

@Suite("JSON log lines")
struct JSONLogHandlerTests {
    @Test("one object per line with level, message and every metadata field at the top level")
    func line() throws {
        let line = JSONLogHandler.line(
            timestamp: Date(timeIntervalSince1970: 0),
            level: .warning,
            label: "chanjing-worker",
            message: "Request failed: \"quoted\"\nsecond line",
            metadata: [
                "request_id": "r-1", "partition": "2", "offset": .stringConvertible(41), "creation_id": "c-9",
                "traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "message": "shadowed",
            ]
        )
        #expect(line.hasSuffix("\n"))
        #expect(line.dropLast().contains("\n") == false, "a message's newline stays escaped inside the line")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        #expect(object["level"] as? String == "warning")
        #expect(object["message"] as? String == "Request failed: \"quoted\"\nsecond line")
        #expect(object["request_id"] as? String == "r-1")
        #expect(object["offset"] as? String == "41")
        #expect(object["creation_id"] as? String == "c-9")
        #expect(object["traceparent"] as? String == "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
        #expect(object["timestamp"] as? String == "1970-01-01T00:00:00.000Z")
    }
}
