/// A JSON document as parsed by ``StrictJSONParser``.
///
/// Numbers keep their literal text so that validation can tell `5` from `5.0` and `"5"`, which
/// Foundation's decoders do not distinguish.
public indirect enum JSONValue: Sendable, Equatable {
    case null
    case bool(Bool)
    case number(JSONNumber)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    /// The JSON type name used in validation messages ("a string", "an array", ...).
    public var typeDescription: String {
        switch self {
        case .null: "null"
        case .bool: "a boolean"
        case .number(let number): number.isInteger ? "an integer" : "a number with a fraction or exponent"
        case .string: "a string"
        case .array: "an array"
        case .object: "an object"
        }
    }
}

/// A JSON number, kept as the literal that appeared in the document.
public struct JSONNumber: Sendable, Equatable {
    /// The number exactly as written, e.g. `5`, `-0.5`, `1e3`.
    public let literal: String

    public init(literal: String) {
        self.literal = literal
    }

    /// True when the literal has neither a fraction nor an exponent (`5`, not `5.0` or `5e0`).
    public var isInteger: Bool {
        !literal.contains(where: { $0 == "." || $0 == "e" || $0 == "E" })
    }

    /// The value as an `Int` when the literal is an integer that fits.
    public var intValue: Int? {
        isInteger ? Int(literal) : nil
    }
}
