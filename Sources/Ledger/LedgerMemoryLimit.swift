/// The bound on the memory the ledger's copy of the owned partitions takes (`--ledger-memory`).
///
/// Without it the copy holds every request seen within the ledger topic's retention: 6 million
/// requests at 10 a second for 7 days, more than a pod has. Within the bound:
/// - Half of it holds entries in full, the newest: a request found there is answered at once.
///   Tasks being followed and intents without an outcome always stay in full.
/// - When the full entries pass their half, the oldest quarter of them is compacted: only the
///   request's key and the offset of the ledger record holding its entry are kept. A request
///   found there is answered by reading that one record back from the ledger topic (one fetch).
/// - When the compacted entries pass the other half, the oldest quarter of them is dropped: such
///   a request is new to the ledger, as if retention had deleted its record, and is submitted
///   again if it comes back. The ledger then remembers less than the topic keeps: the metrics
///   show the memory held against the limit, and an alert fires before it is reached.
///
/// Sizes are estimates from measured sizes (``LedgerMemoryTests``), at the dictionaries'
/// emptiest, so the resident memory stays below them.
public struct LedgerMemoryLimit: Sendable, Equatable {
    /// A request held in full, with its claim (intent and outcome; measured: 445 to 458).
    static let fullEntryBytes = 500
    /// What following a task adds to its request's entry (measured: 534 with a key and a header).
    static let followedTaskBytes = 600
    /// A compacted request (its dictionary's storage: at most 65).
    static let compactedEntryBytes = 72
    /// Below this, the full entries could not even hold the requests in flight.
    public static let minimumBytes = 16 << 20

    public let bytes: Int

    /// A limit of `bytes`; nil below ``minimumBytes``.
    public init?(bytes: Int) {
        guard bytes >= Self.minimumBytes else { return nil }
        self.bytes = bytes
    }

    /// Any limit, for tests that pass it with a few hundred requests.
    init(uncheckedBytes bytes: Int) {
        self.bytes = bytes
    }

    /// The default: 256 MiB, about 270,000 requests in full and 1.9 million compacted.
    public static let standard = LedgerMemoryLimit(bytes: 256 << 20)!

    /// How many requests may be held in full while `followed` tasks are followed: half the limit
    /// less the tasks' extra, but never below an eighth of the limit (the tasks are bounded by
    /// `--max-track-time` and must not make every write compact the rest).
    func fullEntries(followed: Int) -> Int {
        max(bytes / 2 - followed * Self.followedTaskBytes, bytes / 8) / Self.fullEntryBytes
    }

    /// How many compacted requests may be held.
    var compactedEntries: Int { bytes / 2 / Self.compactedEntryBytes }

    /// The estimated memory of what is held.
    static func estimate(full: Int, followed: Int, compacted: Int) -> Int {
        full * fullEntryBytes + followed * followedTaskBytes + compacted * compactedEntryBytes
    }
}
