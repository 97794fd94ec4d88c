import Testing

@testable import Ledger

@Suite("The ledger holds entries in a compact form and gives them back unchanged")
struct HeldEntryTests {
    static let hash = LedgerEntry.hashText(0x9e37_79b9_7f4a_7c15)

    @Test("an outcome with every field, and an intent, come back equal to what was written")
    func roundTrip() {
        var outcome = LedgerCodecTests.outcome
        outcome.bodyHash = Self.hash
        let held = HeldEntry(outcome, offset: 42)
        #expect(held.offset == 42 && held.kind == .outcome)
        #expect(held.entry(requestID: outcome.requestID) == outcome)

        let intent = LedgerEntry(kind: .intent, requestID: "r-1", bodyHash: Self.hash, at: 1, intentAt: 0)
        #expect(HeldEntry(intent, offset: 0).kind == .intent)
        #expect(HeldEntry(intent, offset: 0).entry(requestID: "r-1") == intent)
    }

    @Test("Chanjing's IDs in their usual forms are held in 16 bytes and come back unchanged; any other text comes back as it was")
    func heldText() {
        let uuid = "a60747d7-dc05-4afc-b2ef-ee4370ed53c6"
        let trace = "96af0e5b7d2c4a1f8e3b6d9c0a1b2c3d"
        #expect(HeldText(uuid) == .uuid(0xa607_47d7_dc05_4afc, 0xb2ef_ee43_70ed_53c6))
        #expect(HeldText("00000000-0000-0000-0000-000000000001") == .uuid(0, 1))
        guard case .hex = HeldText(trace) else {
            Issue.record("32 lowercase hex digits are held as a number")
            return
        }
        let others = [
            uuid.uppercased(), "a60747d7-dc05-4afc-b2ef-ee4370ed53c", "a60747d7xdc05-4afc-b2ef-ee4370ed53c6", "a60747d7-dc05-4afc-b2ef-ee4370ed53cg",
            "a60747d7dc054afcb2efee4370ed53c6----", String(trace.dropLast()), trace + "0", "96AF0E5B7D2C4A1F8E3B6D9C0A1B2C3D",
            "视频视频视频视频视频视频", "", "task-1",
        ]
        for text in [uuid, trace, "00000000000000000000000000000000", "ffffffffffffffffffffffffffffffff"] + others {
            #expect(HeldText(text).text == text, "\(text)")
        }
        for text in others {
            #expect(HeldText(text) == .text(text), "\(text)")
        }
    }

    @Test("request IDs are told apart by their keys")
    func requestKeys() {
        #expect(RequestKey("request-1") == RequestKey("request-1"))
        #expect(RequestKey("request-1") != RequestKey("request-2"))
        #expect(RequestKey("") != RequestKey(" "))
        let keys = Set((0..<100_000).map { RequestKey("request-\($0)") })
        #expect(keys.count == 100_000)
    }

    @Test("an outcome with Chanjing's usual IDs comes back unchanged")
    func usualIDs() {
        var outcome = LedgerCodecTests.outcome
        outcome.bodyHash = Self.hash
        outcome.creationID = "a60747d7-dc05-4afc-b2ef-ee4370ed53c6"
        outcome.chanjingTraceID = "96af0e5b7d2c4a1f8e3b6d9c0a1b2c3d"
        outcome.error = nil
        #expect(HeldEntry(outcome, offset: 1).entry(requestID: outcome.requestID) == outcome)
    }

    @Test("a body hash LedgerEntry.hashText(_:) cannot have written matches no request, as before")
    func foreignHash() {
        for foreign in ["0123abcd", "FF", "h", ""] {
            let entry = LedgerEntry(kind: .intent, requestID: "r", bodyHash: foreign, at: 1)
            let back = HeldEntry(entry, offset: 0).entry(requestID: "r").bodyHash
            #expect(back != Self.hash && back.isEmpty, "\(foreign)")
        }
    }
}
