import Foundation
import Testing
import VideoContract

/// The fuzz seeds double as the hostile-input table: every `hostile-*` file must be rejected,
/// every `valid-*` file accepted.
@Suite("Hostile input")
struct HostileInputTests {
    static let seeds = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../Fuzz/seeds")

    static func files(_ prefix: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: seeds.path)) ?? []).filter { $0.hasPrefix(prefix) }.sorted()
    }

    @Test("the table holds at least 40 hostile requests")
    func size() {
        #expect(Self.files("hostile-").count >= 40)
    }

    @Test("every hostile request is rejected with a code and a message", arguments: files("hostile-"))
    func hostile(_ name: String) throws {
        let bytes = try [UInt8](Data(contentsOf: Self.seeds.appendingPathComponent(name)))
        guard case .invalid(let rejection, let requestID) = RequestDecoder().decode(bytes, fallbackRequestID: "t-0-0") else {
            Issue.record("\(name) was accepted")
            return
        }
        #expect(!rejection.message.isEmpty)
        #expect(!requestID.isEmpty)
    }

    @Test("every valid seed is accepted", arguments: files("valid-"))
    func valid(_ name: String) throws {
        let bytes = try [UInt8](Data(contentsOf: Self.seeds.appendingPathComponent(name)))
        guard case .valid = RequestDecoder().decode(bytes, fallbackRequestID: "t-0-0") else {
            Issue.record("\(name) was rejected")
            return
        }
    }
}
