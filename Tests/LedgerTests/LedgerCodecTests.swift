import Foundation
import Kafka
import Testing

@testable import Ledger

@Suite("The ledger's codec writes every entry as JSON and reads back exactly what it wrote")
struct LedgerCodecTests {
    static let awkward = "say \"hi\" \\ path/to\n\ttab \r \u{01}\u{1f} 视频 🎬"

    static let outcome = LedgerEntry(
        kind: .outcome, requestID: awkward, bodyHash: "123abcd", at: 1_764_100_000_123,
        status: .failed, creationID: "task-\(awkward)",
        error: .init(code: "retries_exhausted", message: awkward, field: "prompt", chanjingCode: 50000),
        attempts: 3, retries: .init(safe: 1, ambiguous: 2), chanjingTraceID: "trace/1", reconciled: true,
        intentAt: 1_764_099_999_000, requestOffset: 7_340
    )

    private static let texts = [
        "", "a", "request-1", awkward, "slash/and\\back", "视频 🎬", "\u{7f}\u{80}\u{2028}", UUID().uuidString.lowercased(),
    ]

    /// An entry with a random choice of fields, some texts hard to write.
    private static func randomEntry() -> LedgerEntry {
        func maybe<T>(_ value: @autoclosure () -> T) -> T? { Bool.random() ? value() : nil }
        return LedgerEntry(
            kind: [.intent, .outcome, .adoption].randomElement()!, requestID: texts.randomElement()!, bodyHash: String(UInt64.random(in: 0...UInt64.max), radix: 16),
            at: Int64.random(in: Int64.min...Int64.max),
            status: maybe(LedgerEntry.Status.allCases.randomElement()!), creationID: maybe(texts.randomElement()!),
            error: maybe(.init(code: texts.randomElement()!, message: texts.randomElement()!, field: maybe(texts.randomElement()!), chanjingCode: maybe(Int.random(in: -1...60000)))),
            attempts: maybe(Int.random(in: 0...Int.max)), retries: maybe(.init(safe: Int.random(in: 0...9), ambiguous: Int.random(in: 0...9))),
            chanjingTraceID: maybe(texts.randomElement()!), reconciled: maybe(Bool.random()), intentAt: maybe(Int64.random(in: 0...Int64.max)),
            requestOffset: maybe(Int64.random(in: 0...Int64.max)), follow: maybe(randomFollow()), completion: maybe(LedgerEntry.Completion.allCases.randomElement()!)
        )
    }

    /// What following a task needs, with keys and header values of any bytes.
    private static func randomFollow() -> LedgerEntry.Follow {
        func bytes() -> [UInt8] { (0..<Int.random(in: 0...40)).map { _ in UInt8.random(in: 0...255) } }
        return LedgerEntry.Follow(
            offset: Int64.random(in: 0...Int64.max), key: Bool.random() ? bytes() : nil,
            headers: (0..<Int.random(in: 0...3)).map { _ in KafkaHeader(name: texts.randomElement()!, value: Bool.random() ? bytes() : nil) }
        )
    }

    @Test("records with every mix of fields and texts read back equal")
    func roundTrip() {
        #expect(LedgerEntry.decode(LedgerEntry.record([])) == [])
        for size in [1, 2, 11, 40] {
            for _ in 0..<50 {
                let entries = (0..<size).map { _ in Self.randomEntry() }
                #expect(LedgerEntry.decode(LedgerEntry.record(entries.map { $0.encoded() })) == entries)
            }
        }
    }

    @Test("an entry is written with its keys sorted and absent fields left out, slashes unescaped")
    func written() {
        var plain = Self.outcome
        plain.requestID = "request-1"
        plain.creationID = "task-1"
        plain.error = .init(code: "retries_exhausted", message: "Chanjing answered 50000 five times", field: "prompt", chanjingCode: 50000)
        let expected = #"{"at":1764100000123,"attempts":3,"body_hash":"123abcd","chanjing_trace_id":"trace/1","creation_id":"task-1","#
            + #""error":{"chanjing_code":50000,"code":"retries_exhausted","field":"prompt","message":"Chanjing answered 50000 five times"},"#
            + #""intent_at":1764099999000,"kind":"outcome","reconciled":true,"request_id":"request-1","request_offset":7340,"retries":{"ambiguous":2,"safe":1},"status":"failed"}"#
        #expect(String(decoding: plain.encoded(), as: UTF8.self) == expected)
        let intent = LedgerEntry(kind: .intent, requestID: "r", bodyHash: "ff", at: 1)
        #expect(String(decoding: intent.encoded(), as: UTF8.self) == #"{"at":1,"body_hash":"ff","kind":"intent","request_id":"r"}"#)
    }

    @Test("records written by earlier versions through JSONEncoder (escaped slashes, pretty-printed) read back equal")
    func earlierVersions() {
        let record = """
            {
              "entries" : [
                {
                  "at" : 1764100000123,
                  "body_hash" : "ff",
                  "chanjing_trace_id" : "trace\\/1",
                  "creation_id" : "a60747d7-dc05-4afc-b2ef-ee4370ed53c6",
                  "kind" : "outcome",
                  "request_id" : "r\\/1",
                  "retries" : {
                    "ambiguous" : 0,
                    "safe" : 1
                  },
                  "status" : "submitted",
                  "attempts" : 2
                }
              ]
            }
            """
        let expected = LedgerEntry(
            kind: .outcome, requestID: "r/1", bodyHash: "ff", at: 1_764_100_000_123, status: .submitted, creationID: "a60747d7-dc05-4afc-b2ef-ee4370ed53c6",
            attempts: 2, retries: .init(safe: 1, ambiguous: 0), chanjingTraceID: "trace/1"
        )
        #expect(LedgerEntry.decode(Array(record.utf8)) == [expected])
    }

    @Test("unknown fields of any shape are skipped, null optional fields read as absent, escapes resolved")
    func laterVersions() {
        let record = """
            { "version" : 2, "entries" : [ {
                "future": {"a": [1, -2.5e3, {"b": null}, [], {}], "c": "x\\"y", "d": true, "e": false},
                "kind": "outcome", "request_id": "caf\\u00e9 \\ud83c\\udfac \\/\\b\\f\\n\\r\\t\\"\\\\", "body_hash": "ff", "at": -9223372036854775808,
                "status": "failed", "creation_id": null, "error": {"code": "a_later_code", "message": "m", "field": null, "hint": [1]},
                "attempts": 0, "retries": {"safe": 1, "ambiguous": 2, "later": 3}, "reconciled": null, "intent_at": 9223372036854775807
            } ], "trailer": [null] }
            """
        let entries = LedgerEntry.decode(Array(record.utf8))
        #expect(entries?.count == 1)
        let entry = entries?.first
        #expect(entry?.requestID == "café 🎬 /\u{8}\u{c}\n\r\t\"\\")
        #expect(entry?.at == Int64.min && entry?.intentAt == Int64.max)
        #expect(entry?.creationID == nil && entry?.reconciled == nil && entry?.error?.field == nil)
        #expect(entry?.error?.code == "a_later_code" && entry?.retries == .init(safe: 1, ambiguous: 2) && entry?.status == .failed)
    }

    @Test("whatever is not a record the codec writes, or a later version's within the rules, is refused")
    func refusals() {
        let valid = LedgerEntry.record([Self.outcome.encoded(), LedgerEntry(kind: .intent, requestID: "r", bodyHash: "h", at: 1).encoded()])
        // Every truncation of a record is refused.
        for end in 0..<valid.count {
            #expect(LedgerEntry.decode(Array(valid[..<end])) == nil, "\(end) bytes")
        }
        let entry = #"{"kind":"intent","request_id":"r","body_hash":"h","at":1"#
        let deep = String(repeating: "[", count: 100) + String(repeating: "]", count: 100)
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
            #"{"entries":[\#(entry),"error":{"code":"c"}}]}"#,  // an error without its message
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
            #"{"entries":[\#(entry),"later":\#(deep)}]}"#,  // nested past any reason
            #"{"entries":[\#(entry),"at":2}]}"#,  // a key given twice
            #"{"entries":[],"entries":[]}"#,  // the same at the top
            #"{"entries":[\#(entry)}],}"#,  // a trailing comma
            #"{"entries":[\#(entry)}]} x"#,  // content after the record
            #"{"entries":{}}"#, "[]", "null", "",
        ]
        for text in refused {
            #expect(LedgerEntry.decode(Array(text.utf8)) == nil, "\(text)")
        }
        // Invalid UTF-8 inside a string.
        var invalid = Array(#"{"entries":[{"kind":"intent","request_id":"#.utf8)
        invalid += [0x22, 0xC3, 0x28, 0x22] + Array(#","body_hash":"h","at":1}]}"#.utf8)
        #expect(LedgerEntry.decode(invalid) == nil)
    }

    @Test("the codec knows every stored field: a new one must be added to LedgerCodec.swift and to HeldEntry (or HeldFollow)")
    func everyFieldWritten() {
        // `follow` is held apart, while the task is followed (HeldFollow); `completion` only ends that.
        #expect(Mirror(reflecting: Self.outcome).children.count == 15)
        #expect(Mirror(reflecting: FollowedTaskTests.follow).children.count == 3)
        #expect(Mirror(reflecting: LedgerEntry.Retries()).children.count == 2)
        #expect(Mirror(reflecting: Self.outcome.error!).children.count == 4)
    }
}
