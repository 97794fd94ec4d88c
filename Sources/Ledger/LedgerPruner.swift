import ServiceLifecycle

/// Keeps the worker's copy of the ledger as small as the topic: every `interval` it forgets the
/// entries that retention has deleted (``SubmissionLedger/forgetDeleted()``). Without it a
/// long-running worker would remember every request it ever wrote.
public struct LedgerPruner: Service {
    let ledger: SubmissionLedger
    let interval: Duration

    public init(ledger: SubmissionLedger, interval: Duration) {
        self.ledger = ledger
        self.interval = interval
    }

    public func run() async {
        await cancelWhenGracefulShutdown {
            while (try? await Task.sleep(for: interval)) != nil {
                await ledger.forgetDeleted()
            }
        }
    }
}
