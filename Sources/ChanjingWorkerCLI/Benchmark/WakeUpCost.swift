import Foundation
import Synchronization

/// What it costs, on this machine, to wake a thread that sleeps: what each hop of a request
/// between sleeping threads (a record from the poll thread, a delivery report, an HTTP answer)
/// adds to its CPU, so that the worker's context switches per request can be read as CPU.
/// Virtual machines differ widely here, so the benchmark measures it rather than assume it.
enum WakeUpCost {
    /// The CPU time (both threads') per wake-up, over `roundTrips` hand-overs back and forth
    /// between two threads that sleep on a condition variable while the other one runs.
    static func measure(roundTrips: Int = 20_000) async -> Duration {
        let condition = NSCondition()
        let turn = Atomic<Int>(0)
        let cpu = Mutex<[Duration]>([])
        return await withCheckedContinuation { continuation in
            for side in 0..<2 {
                Thread {
                    let start = threadCPUTime()
                    for _ in 0..<roundTrips {
                        condition.lock()
                        while turn.load(ordering: .relaxed) != side { condition.wait() }
                        turn.store(1 - side, ordering: .relaxed)
                        condition.signal()
                        condition.unlock()
                    }
                    let spent = threadCPUTime() - start
                    let both = cpu.withLock { cpu in
                        cpu.append(spent)
                        return cpu.count == 2 ? cpu.reduce(.zero, +) : nil
                    }
                    if let both { continuation.resume(returning: both / (2 * roundTrips)) }
                }.start()
            }
        }
    }

    private static func threadCPUTime() -> Duration {
        var now = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now)
        return .seconds(now.tv_sec) + .nanoseconds(now.tv_nsec)
    }
}
