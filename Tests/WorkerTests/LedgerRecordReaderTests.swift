import Foundation
import Testing
import VideoContract

@testable import Worker

@Suite("Ledger records are read without JSONDecoder, exactly as JSONDecoder reads them")
struct LedgerRecordReaderTests {
    private struct Batch: Codable, Equatable {
        var entries: [LedgerEntry]
    }

    private static let texts = [
        "", "a", "request-1", LedgerEntryEncodingTests.awkward, "slash/and\\back", "视频 🎬", "\u{7f}\u{80}\u{2028}", UUID().uuidString.lowercased(),
    ]

    /// An entry with a random choice of fields, some texts hard to write.
    private static func randomEntry() -> LedgerEntry {
        func maybe<T>(_ value: @autoclosure () -> T) -> T? { Bool.random() ? value() : nil }
        return LedgerEntry(
            kind: [.intent, .outcome, .adoption].randomElement()!, requestID: texts.randomElement()!, bodyHash: String(UInt64.random(in: 0...UInt64.max), radix: 16),
            at: Int64.random(in: Int64.min...Int64.max),
            status: maybe(VideoResult.Status.allCases.randomElement()!), creationID: maybe(texts.randomElement()!),
            error: maybe(.init(code: ResultErrorCode.allCases.randomElement()!, message: texts.randomElement()!, field: maybe(texts.randomElement()!), chanjingCode: maybe(Int.random(in: -1...60000)))),
            attempts: maybe(Int.random(in: 0...Int.max)), retries: maybe(.init(safe: Int.random(in: 0...9), ambiguous: Int.random(in: 0...9))),
            chanjingTraceID: maybe(texts.randomElement()!), reconciled: maybe(Bool.random()), intentAt: maybe(Int64.random(in: 0...Int64.max))
        )
    }

    @Test("records the worker writes, with every mix of fields and texts, read back equal, and equal to JSONDecoder's reading")
    func writtenRecords() throws {
        for size in [0, 1, 2, 11, 40] {
            for _ in 0..<50 {
                let entries = (0..<size).map { _ in Self.randomEntry() }
                let record = LedgerEntry.record(entries.map { $0.encoded() })
                #expect(LedgerRecordReader.entries(record) == entries)
                #expect(try JSONDecoder().decode(Batch.self, from: Data(record)).entries == entries)
            }
        }
    }

    @Test("records JSONEncoder writes (escaped slashes, its own key order, pretty-printed) read back equal")
    func jsonEncoderRecords() throws {
        let batch = Batch(entries: (0..<20).map { _ in Self.randomEntry() })
        for formatting in [JSONEncoder.OutputFormatting(), .prettyPrinted, [.sortedKeys, .withoutEscapingSlashes]] {
            let encoder = JSONEncoder()
            encoder.outputFormatting = formatting
            #expect(LedgerRecordReader.entries(Array(try encoder.encode(batch))) == batch.entries, "\(formatting)")
        }
    }

    @Test("unknown fields of any shape are skipped, null optional fields read as absent, escapes resolved")
    func laterVersions() {
        let record = """
            { "version" : 2, "entries" : [ {
                "future": {"a": [1, -2.5e3, {"b": null}, [], {}], "c": "x\\"y", "d": true, "e": false},
                "kind": "outcome", "request_id": "caf\\u00e9 \\ud83c\\udfac \\/\\b\\f\\n\\r\\t\\"\\\\", "body_hash": "ff", "at": -9223372036854775808,
                "status": "failed", "creation_id": null, "error": {"code": "outcome_unknown", "message": "m", "field": null, "hint": [1]},
                "attempts": 0, "retries": {"safe": 1, "ambiguous": 2, "later": 3}, "reconciled": null, "intent_at": 9223372036854775807
            } ], "trailer": [null] }
            """
        let entries = LedgerRecordReader.entries(Array(record.utf8))
        #expect(entries?.count == 1)
        let entry = entries?.first
        #expect(entry?.requestID == "café 🎬 /\u{8}\u{c}\n\r\t\"\\")
        #expect(entry?.at == Int64.min && entry?.intentAt == Int64.max)
        #expect(entry?.creationID == nil && entry?.reconciled == nil && entry?.error?.field == nil)
        #expect(entry?.error?.code == .outcomeUnknown && entry?.retries == .init(safe: 1, ambiguous: 2) && entry?.status == .failed)
        #expect(LedgerEntry.decode(Array(record.utf8)) == entries, "decode takes the reader's answer")
    }

    @Test("whatever it does not read exactly is refused, and decode then answers as JSONDecoder does")
    func refusals() throws {
        let valid = LedgerEntry.record([LedgerEntryEncodingTests.outcome.encoded(), LedgerEntry(kind: .intent, requestID: "r", bodyHash: "h", at: 1).encoded()])
        // Every truncation of a record is refused.
        for end in 0..<valid.count {
            #expect(LedgerRecordReader.entries(Array(valid[..<end])) == nil, "\(end) bytes")
        }
        let entry = #"{"kind":"intent","request_id":"r","body_hash":"h","at":1"#
        let refused = [
            #"{"entries":[\#(entry),"attempts":1.0}]}"#,  // a fraction
            #"{"entries":[\#(entry),"attempts":1e0}]}"#,  // an exponent
            #"{"entries":[\#(entry),"attempts":01}]}"#,  // a leading zero
            #"{"entries":[{"kind":"intent","request_id":"r","body_hash":"h","at":9223372036854775808}]}"#,  // past Int64
            #"{"entries":[{"kind":"wish","request_id":"r","body_hash":"h","at":1}]}"#,  // an unknown kind
            #"{"entries":[{"kind":"intent","request_id":"r","at":1}]}"#,  // no body_hash
            #"{"entries":[{"kind":"intent","request_id":null,"body_hash":"h","at":1}]}"#,  // a required field null
            #"{"entries":[\#(entry),"status":"lost"}]}"#,  // an unknown status
            #"{"entries":[\#(entry),"reconciled":"yes"}]}"#,  // a field of the wrong type
            #"{"entries":[{"kind":"intent","request_id":"\ud800","body_hash":"h","at":1}]}"#,  // a lone surrogate
            #"{"entries":[{"kind":"intent","request_id":"\u+041","body_hash":"h","at":1}]}"#,  // a malformed escape
            #"{"entries":[{"kind":"intent","request_id":"a\qb","body_hash":"h","at":1}]}"#,  // an unknown escape
            "{\"entries\":[{\"kind\":\"intent\",\"request_id\":\"a\tb\",\"body_hash\":\"h\",\"at\":1}]}",  // a raw control character
            #"{"entries":[\#(entry),"later":+1}]}"#,  // not JSON numbers, even in a field skipped
            #"{"entries":[\#(entry),"later":01}]}"#,
            #"{"entries":[\#(entry),"later":1.}]}"#,
            #"{"entries":[\#(entry),"later":.5}]}"#,
            #"{"entries":[\#(entry),"later":1e}]}"#,
            #"{"entries":[\#(entry),"later":-}]}"#,
            #"{"entries":[\#(entry),"at":2}]}"#,  // a key given twice
            #"{"entries":[],"entries":[]}"#,  // the same at the top
            #"{"entries":[\#(entry)}],}"#,  // a trailing comma
            #"{"entries":[\#(entry)}]} x"#,  // content after the record
            #"{"entries":{}}"#, "[]", "null", "",
        ]
        for text in refused {
            let bytes = Array(text.utf8)
            #expect(LedgerRecordReader.entries(bytes) == nil, "\(text)")
            #expect(LedgerEntry.decode(bytes) == (try? JSONDecoder().decode(Batch.self, from: Data(bytes)).entries), "\(text)")
        }
        // Invalid UTF-8 inside a string.
        var invalid = Array(#"{"entries":[{"kind":"intent","request_id":"#.utf8)
        invalid += [0x22, 0xC3, 0x28, 0x22] + Array(#","body_hash":"h","at":1}]}"#.utf8)
        #expect(LedgerRecordReader.entries(invalid) == nil)
        #expect(LedgerEntry.decode(invalid) == nil)
    }
}
