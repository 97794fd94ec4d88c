import Chanjing
import Testing
import VideoContract

@testable import Worker

@Suite("The ledger holds entries in a compact form and gives them back unchanged")
struct HeldEntryTests {
    static let hash = LedgerEntry.hash(
        of: SubmitTaskRequest(
            prompt: "a cat", referenceImageURLs: [], creationType: 4, aspectRatio: "16:9", qualityMode: "std", videoDuration: 5, modelCode: "kling-v2.5-turbo"
        )
    )

    @Test("an outcome with every field, and an intent, come back equal to what was written")
    func roundTrip() {
        var outcome = LedgerEntryEncodingTests.outcome
        outcome.bodyHash = Self.hash
        let held = HeldEntry(outcome, offset: 42)
        #expect(held.offset == 42 && held.kind == .outcome)
        #expect(held.entry(requestID: outcome.requestID) == outcome)

        let intent = LedgerEntry(kind: .intent, requestID: "r-1", bodyHash: Self.hash, at: 1, intentAt: 0)
        #expect(HeldEntry(intent, offset: 0).kind == .intent)
        #expect(HeldEntry(intent, offset: 0).entry(requestID: "r-1") == intent)
    }

    @Test("a body hash LedgerEntry.hash(of:) cannot have written matches no request, as before")
    func foreignHash() {
        for foreign in ["0123abcd", "FF", "h", ""] {
            let entry = LedgerEntry(kind: .intent, requestID: "r", bodyHash: foreign, at: 1)
            let back = HeldEntry(entry, offset: 0).entry(requestID: "r").bodyHash
            #expect(back != Self.hash && back.isEmpty, "\(foreign)")
        }
    }
}
