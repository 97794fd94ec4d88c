/// A strict RFC 8259 parser for request messages.
///
/// Foundation's decoders accept `5.0` where an integer is expected and recurse without a depth
/// limit we control; the request contract needs both decided exactly, before any recursion can
/// exhaust the stack. This parser bounds nesting while parsing, rejects duplicate object keys
/// (which would make "which value wins" ambiguous), lone surrogates and raw control characters,
/// and keeps number literals verbatim.
public struct StrictJSONParser: Sendable {
    /// Why a document was refused.
    public enum Failure: Error, Sendable, Equatable {
        /// The bytes are not valid UTF-8.
        case notUTF8
        /// The document is not valid JSON; the message says what was found and where.
        case syntax(String)
        /// Arrays and objects nest deeper than the limit.
        case tooDeep(limit: Int)
    }

    /// The deepest nesting of arrays and objects accepted; the top-level object is depth 1.
    public let maxDepth: Int

    public init(maxDepth: Int) {
        self.maxDepth = maxDepth
    }

    /// Parses one JSON document that must fill `bytes` apart from surrounding whitespace.
    public func parse(_ bytes: [UInt8]) throws(Failure) -> JSONValue {
        guard JSONScanner.isUTF8(bytes) else { throw .notUTF8 }
        var scanner = JSONScanner(bytes)
        let value = try scanner.value(maxDepth: maxDepth)
        guard scanner.isAtEnd() else {
            throw .syntax("unexpected content after the JSON value at byte \(scanner.index)")
        }
        return value
    }
}
