/// librdkafka configuration properties (`bootstrap.servers`, `security.protocol`, ...).
///
/// Its description redacts secret values, so it is safe to log.
public struct KafkaProperties: Sendable, Equatable, CustomStringConvertible {
    /// The properties, by librdkafka name.
    public private(set) var values: [String: String]

    public init(_ values: [String: String] = [:]) {
        self.values = values
    }

    public subscript(key: String) -> String? {
        get { values[key] }
        set { values[key] = newValue }
    }

    /// These properties with `other`'s values winning where both set a key.
    public func merging(_ other: KafkaProperties) -> KafkaProperties {
        KafkaProperties(values.merging(other.values) { _, new in new })
    }

    /// True for properties whose values are credentials or keys and must never be printed.
    public static func isSecret(_ key: String) -> Bool {
        let key = key.lowercased()
        return key.contains("password") || key.contains("secret") || key == "sasl.oauthbearer.config"
            || key == "ssl.key.pem" || key == "ssl_key" || key.hasSuffix(".jaas.config")
    }

    public var description: String {
        let shown = values.keys.sorted().map { key in
            "\(key)=\(Self.isSecret(key) ? "[redacted]" : values[key]!)"
        }
        return "[" + shown.joined(separator: ", ") + "]"
    }
}
