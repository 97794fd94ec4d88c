import Crdkafka
import Synchronization

/// Asks a poll thread to stop, and ends the wait it is in. A poll thread waits up to a second
/// for something to serve, so that an idle worker's poll threads wake about once a second
/// rather than ten times; a stop must not wait for that second to pass.
final class PollStop: Sendable {
    private let requested = Atomic<Bool>(false)
    /// The queue the thread waits on, held until the thread lets it go: librdkafka wants every
    /// queue handle destroyed before its client.
    private let queue: Mutex<OpaquePointer?>

    /// `queue` is a handle of the queue the thread polls (`rd_kafka_queue_get_main` or
    /// `rd_kafka_queue_get_consumer`); this takes it over.
    init(queue: sending OpaquePointer?) {
        self.queue = Mutex(queue)
    }

    var isRequested: Bool { requested.load(ordering: .acquiring) }

    /// Asks the thread to stop and ends its poll's wait, or its next poll's if none waits now.
    func request() {
        // Under the lock: once the thread has let the queue go, no yield may reach the queues
        // closing uses (a consumer's close forwards this queue to the one it waits on).
        queue.withLock { queue in
            requested.store(true, ordering: .releasing)
            if let queue { rd_kafka_queue_yield(queue) }
        }
    }

    /// Called by the poll thread once it has stopped polling, before it closes or destroys its
    /// client: a later ``request()`` then ends nothing.
    func release() {
        queue.withLock { queue in
            if let handle = queue.take() { rd_kafka_queue_destroy(handle) }
        }
    }
}
