import Foundation
import Testing
import VideoContract

@testable import Worker

@Suite("Ledger entries are written as JSON that JSONDecoder reads back")
struct LedgerEntryEncodingTests {
    static let awkward = "say \"hi\" \\ path/to\n\ttab \r \u{01}\u{1f} 视频 🎬"

    static let outcome = LedgerEntry(
        kind: .outcome, requestID: awkward, bodyHash: "0123abcd", at: 1_764_100_000_123,
        status: .failed, creationID: "task-\(awkward)",
        error: .init(code: .retriesExhausted, message: awkward, field: "prompt", chanjingCode: 50000),
        attempts: 3, retries: .init(safe: 1, ambiguous: 2), chanjingTraceID: "trace/1", reconciled: true,
        intentAt: 1_764_099_999_000
    )

    @Test("every field, with quotes, backslashes, control characters and non-ASCII text, survives the round trip")
    func roundTrip() throws {
        let intent = LedgerEntry(kind: .intent, requestID: "r-1", bodyHash: "ff", at: 1)
        let decoded = try JSONDecoder().decode(LedgerEntry.self, from: Data(Self.outcome.encoded()))
        #expect(decoded == Self.outcome)
        #expect(LedgerEntry.decode(LedgerEntry.record([Self.outcome.encoded(), intent.encoded()])) == [Self.outcome, intent])
        #expect(LedgerEntry.decode(LedgerEntry.record([])) == [])
    }

    @Test("an entry of plain text is byte for byte what JSONEncoder with sorted keys writes")
    func matchesJSONEncoder() throws {
        var plain = Self.outcome
        plain.requestID = "request-1"
        plain.creationID = "task-1"
        plain.error = .init(code: .retriesExhausted, message: "Chanjing answered 50000 five times", field: "prompt", chanjingCode: 50000)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        #expect(String(decoding: plain.encoded(), as: UTF8.self) == String(decoding: try encoder.encode(plain), as: UTF8.self))
    }

    @Test("the writer knows every stored field: a new one must be added to LedgerEntry.encoded() and to HeldEntry")
    func everyFieldWritten() {
        #expect(Mirror(reflecting: Self.outcome).children.count == 12)
        #expect(Mirror(reflecting: VideoResult.Retries()).children.count == 2)
    }
}
