/// Reads JSON (RFC 8259) from UTF-8 bytes, one token or value at a time: the one scanner behind
/// ``StrictJSONParser`` (request messages, into ``JSONValue``) and the ledger's record reader
/// (straight into its own types).
///
/// Strict where JSON is: no leading zeros, no lone surrogates, no raw control characters in
/// strings, no trailing commas. Failures say what was expected and at which byte.
package struct JSONScanner {
    package typealias Failure = StrictJSONParser.Failure

    private let bytes: [UInt8]
    /// The next byte to read.
    package private(set) var index = 0

    /// A scanner over `bytes`, which must be valid UTF-8 (``isUTF8(_:)``): strings are made
    /// without validating each again.
    package init(_ bytes: [UInt8]) {
        self.bytes = bytes
    }

    /// Whether `bytes` is valid UTF-8 (ASCII, the common case, checked first and fast).
    package static func isUTF8(_ bytes: [UInt8]) -> Bool {
        bytes.allSatisfy { $0 < 0x80 } || String(validating: bytes, as: UTF8.self) != nil
    }

    /// True once only whitespace is left.
    package mutating func isAtEnd() -> Bool {
        skipWhitespace()
        return index == bytes.count
    }

    package mutating func skipWhitespace() {
        while index < bytes.count {
            switch bytes[index] {
            case 0x20, 0x09, 0x0A, 0x0D: index += 1
            default: return
            }
        }
    }

    /// A failure naming what was expected here.
    package func fail(_ what: String) -> Failure {
        index < bytes.count
            ? .syntax("\(what) at byte \(index)")
            : .syntax("\(what): the document ends early (truncated?)")
    }

    // MARK: Values

    /// Any value, nested at most `maxDepth` deep counting from `depth`.
    package mutating func value(depth: Int = 0, maxDepth: Int) throws(Failure) -> JSONValue {
        skipWhitespace()
        guard index < bytes.count else { throw fail("expected a value") }
        switch bytes[index] {
        case UInt8(ascii: "{"):
            guard depth + 1 <= maxDepth else { throw .tooDeep(limit: maxDepth) }
            var members: [String: JSONValue] = [:]
            try object { scanner, key throws(Failure) in
                let value = try scanner.value(depth: depth + 1, maxDepth: maxDepth)
                guard members.updateValue(value, forKey: key) == nil else {
                    throw .syntax("duplicate member \(ContractText.quoted(key))")
                }
            }
            return .object(members)
        case UInt8(ascii: "["):
            guard depth + 1 <= maxDepth else { throw .tooDeep(limit: maxDepth) }
            var elements: [JSONValue] = []
            try array { scanner throws(Failure) in elements.append(try scanner.value(depth: depth + 1, maxDepth: maxDepth)) }
            return .array(elements)
        case UInt8(ascii: "\""): return .string(try string())
        case UInt8(ascii: "t"), UInt8(ascii: "f"): return .bool(try bool())
        case UInt8(ascii: "n"): try literal("null"); return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            let range = try number()
            return .number(JSONNumber(literal: String(decoding: bytes[range], as: UTF8.self)))
        default: throw fail("unexpected character")
        }
    }

    /// Reads an object, calling `member` with each key and the scanner at its value, which
    /// `member` must read. Keys given twice are `member`'s to refuse.
    package mutating func object(_ member: (inout JSONScanner, String) throws(Failure) -> Void) throws(Failure) {
        skipWhitespace()
        guard index < bytes.count, bytes[index] == UInt8(ascii: "{") else { throw fail("expected an object") }
        index += 1
        skipWhitespace()
        if index < bytes.count, bytes[index] == UInt8(ascii: "}") {
            index += 1
            return
        }
        while true {
            skipWhitespace()
            guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else { throw fail("expected a member name") }
            let key = try string()
            skipWhitespace()
            guard index < bytes.count, bytes[index] == UInt8(ascii: ":") else { throw fail("expected ':'") }
            index += 1
            skipWhitespace()
            try member(&self, key)
            skipWhitespace()
            guard index < bytes.count else { throw fail("expected ',' or '}'") }
            if bytes[index] == UInt8(ascii: ",") { index += 1; continue }
            if bytes[index] == UInt8(ascii: "}") { index += 1; return }
            throw fail("expected ',' or '}'")
        }
    }

    /// Reads an array, calling `element` with the scanner at each element, which `element` must read.
    package mutating func array(_ element: (inout JSONScanner) throws(Failure) -> Void) throws(Failure) {
        skipWhitespace()
        guard index < bytes.count, bytes[index] == UInt8(ascii: "[") else { throw fail("expected an array") }
        index += 1
        skipWhitespace()
        if index < bytes.count, bytes[index] == UInt8(ascii: "]") {
            index += 1
            return
        }
        while true {
            skipWhitespace()
            try element(&self)
            skipWhitespace()
            guard index < bytes.count else { throw fail("expected ',' or ']'") }
            if bytes[index] == UInt8(ascii: ",") { index += 1; continue }
            if bytes[index] == UInt8(ascii: "]") { index += 1; return }
            throw fail("expected ',' or ']'")
        }
    }

    /// Reads `null` when it comes next; false (nothing read) when something else does.
    package mutating func null() -> Bool {
        skipWhitespace()
        guard index + 4 <= bytes.count, bytes[index] == UInt8(ascii: "n") else { return false }
        return (try? literal("null")) != nil
    }

    package mutating func bool() throws(Failure) -> Bool {
        skipWhitespace()
        if index < bytes.count, bytes[index] == UInt8(ascii: "t") {
            try literal("true")
            return true
        }
        guard index < bytes.count, bytes[index] == UInt8(ascii: "f") else { throw fail("expected a boolean") }
        try literal("false")
        return false
    }

    private mutating func literal(_ literal: StaticString) throws(Failure) {
        let count = literal.utf8CodeUnitCount
        guard index + count <= bytes.count else { throw fail("invalid literal") }
        let expected = UnsafeBufferPointer(start: literal.utf8Start, count: count)
        guard bytes[index..<(index + count)].elementsEqual(expected) else { throw fail("invalid literal") }
        index += count
    }

    // MARK: Numbers

    /// An integer written without fraction or exponent that fits in 64 bits.
    package mutating func integer() throws(Failure) -> Int64 {
        skipWhitespace()
        let start = index
        let range = try number()
        let negative = bytes[start] == UInt8(ascii: "-")
        // Accumulated negatively, so that Int64.min fits; overflow fails.
        var value: Int64 = 0
        for byte in bytes[(negative ? start + 1 : start)..<range.upperBound] {
            let digit = byte &- UInt8(ascii: "0")
            guard digit < 10 else { throw .syntax("expected an integer without fraction or exponent at byte \(start)") }
            let (shifted, overflowMultiplying) = value.multipliedReportingOverflow(by: 10)
            let (next, overflowSubtracting) = shifted.subtractingReportingOverflow(Int64(digit))
            guard !overflowMultiplying, !overflowSubtracting else { throw .syntax("integer out of range at byte \(start)") }
            value = next
        }
        if negative { return value }
        let (positive, overflow) = Int64(0).subtractingReportingOverflow(value)
        guard !overflow else { throw .syntax("integer out of range at byte \(start)") }
        return positive
    }

    /// Reads a number of any form JSON allows and returns where its literal lies: `-`, an
    /// integer part without leading zeros, then an optional fraction and exponent.
    private mutating func number() throws(Failure) -> Range<Int> {
        let start = index
        if index < bytes.count, bytes[index] == UInt8(ascii: "-") { index += 1 }
        guard index < bytes.count, isDigit(bytes[index]) else { throw fail("invalid number") }
        if bytes[index] == UInt8(ascii: "0") {
            index += 1
        } else {
            while index < bytes.count, isDigit(bytes[index]) { index += 1 }
        }
        if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
            index += 1
            guard index < bytes.count, isDigit(bytes[index]) else { throw fail("invalid number") }
            while index < bytes.count, isDigit(bytes[index]) { index += 1 }
        }
        if index < bytes.count, bytes[index] == UInt8(ascii: "e") || bytes[index] == UInt8(ascii: "E") {
            index += 1
            if index < bytes.count, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") { index += 1 }
            guard index < bytes.count, isDigit(bytes[index]) else { throw fail("invalid number") }
            while index < bytes.count, isDigit(bytes[index]) { index += 1 }
        }
        return start..<index
    }

    private func isDigit(_ byte: UInt8) -> Bool { byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") }

    // MARK: Strings

    /// A string, its escapes resolved.
    package mutating func string() throws(Failure) -> String {
        skipWhitespace()
        guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else { throw fail("expected a string") }
        index += 1
        var runStart = index
        // Most strings have no escape: they are made in one copy.
        while index < bytes.count, bytes[index] != UInt8(ascii: "\""), bytes[index] != UInt8(ascii: "\\"), bytes[index] >= 0x20 { index += 1 }
        if index < bytes.count, bytes[index] == UInt8(ascii: "\"") {
            index += 1
            return String(decoding: bytes[runStart..<(index - 1)], as: UTF8.self)
        }
        var scalars = String.UnicodeScalarView()
        while true {
            guard index < bytes.count else { throw fail("unterminated string") }
            let byte = bytes[index]
            if byte == UInt8(ascii: "\"") {
                scalars.append(contentsOf: String(decoding: bytes[runStart..<index], as: UTF8.self).unicodeScalars)
                index += 1
                return String(scalars)
            }
            if byte < 0x20 { throw fail("unescaped control character in a string") }
            if byte != UInt8(ascii: "\\") { index += 1; continue }
            scalars.append(contentsOf: String(decoding: bytes[runStart..<index], as: UTF8.self).unicodeScalars)
            index += 1
            guard index < bytes.count else { throw fail("unterminated escape") }
            let escape = bytes[index]
            index += 1
            switch escape {
            case UInt8(ascii: "\""): scalars.append("\"")
            case UInt8(ascii: "\\"): scalars.append("\\")
            case UInt8(ascii: "/"): scalars.append("/")
            case UInt8(ascii: "b"): scalars.append("\u{08}")
            case UInt8(ascii: "f"): scalars.append("\u{0C}")
            case UInt8(ascii: "n"): scalars.append("\n")
            case UInt8(ascii: "r"): scalars.append("\r")
            case UInt8(ascii: "t"): scalars.append("\t")
            case UInt8(ascii: "u"): scalars.append(try unicodeEscape())
            default: throw fail("invalid escape")
            }
            runStart = index
        }
    }

    /// The scalar of `\uXXXX` (the `\u` already read), joining a surrogate pair.
    private mutating func unicodeEscape() throws(Failure) -> Unicode.Scalar {
        let first = try hex4()
        if (0xD800...0xDBFF).contains(first) {
            guard index + 1 < bytes.count, bytes[index] == UInt8(ascii: "\\"), bytes[index + 1] == UInt8(ascii: "u") else {
                throw fail("lone high surrogate escape")
            }
            index += 2
            let second = try hex4()
            guard (0xDC00...0xDFFF).contains(second) else { throw fail("invalid low surrogate escape") }
            let value = 0x10000 + ((first - 0xD800) << 10) + (second - 0xDC00)
            guard let scalar = Unicode.Scalar(value) else { throw fail("invalid surrogate pair") }
            return scalar
        }
        guard let scalar = Unicode.Scalar(first) else { throw fail("lone low surrogate escape") }
        return scalar
    }

    private mutating func hex4() throws(Failure) -> UInt32 {
        guard index + 4 <= bytes.count else { throw fail("truncated \\u escape") }
        var value: UInt32 = 0
        for _ in 0..<4 {
            let byte = bytes[index]
            let digit: UInt32
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = UInt32(byte - UInt8(ascii: "0"))
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = UInt32(byte - UInt8(ascii: "a") + 10)
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = UInt32(byte - UInt8(ascii: "A") + 10)
            default: throw fail("invalid \\u escape")
            }
            value = value << 4 | digit
            index += 1
        }
        return value
    }
}
