/// A Kafka record header. A header may be present with no value.
public struct KafkaHeader: Sendable, Equatable {
    public var name: String
    public var value: [UInt8]?

    public init(name: String, value: [UInt8]?) {
        self.name = name
        self.value = value
    }

    /// Convenience for a UTF-8 text value.
    public init(name: String, text: String) {
        self.init(name: name, value: Array(text.utf8))
    }
}
