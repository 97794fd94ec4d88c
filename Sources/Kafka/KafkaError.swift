/// An error reported by librdkafka or by this layer, with librdkafka's code and name kept so
/// operators can look them up.
public struct KafkaError: Error, Sendable, Equatable, CustomStringConvertible {
    /// librdkafka's error code (negative values are client-side errors).
    public let code: Int32
    /// librdkafka's name for the code, e.g. `_TRANSPORT` or `UNKNOWN_TOPIC_OR_PART`.
    public let name: String
    /// What happened, in librdkafka's words or ours.
    public let message: String

    public init(code: Int32, name: String, message: String) {
        self.code = code
        self.name = name
        self.message = message
    }

    public var description: String { "\(message) (\(name))" }

    /// The producer's local queue is full; waiting for deliveries frees room.
    public var isQueueFull: Bool { code == Self.queueFullCode }

    /// The producer is closing or closed: the record was purged at shutdown or refused after
    /// it. Producing again cannot help.
    public var isProducerClosed: Bool { Self.producerClosedCodes.contains(code) }

    /// A store or commit for a partition this member no longer owns.
    public var isStaleAssignment: Bool { code == Self.staleAssignmentCode }

    /// The broker(s) could not be reached or did not answer in time.
    public var isUnreachable: Bool { Self.unreachableCodes.contains(code) }
}
