/// Writes one JSON object, field by field, in the order given; nil values are left out, as
/// `JSONEncoder` leaves out nil optionals. Callers give the keys sorted, as `JSONEncoder` with
/// `.sortedKeys` and `.withoutEscapingSlashes` would (tests compare the two).
///
/// For the messages written for every request (results, ledger entries), where `JSONEncoder`
/// cost several percent of the worker's CPU.
package struct JSONObjectWriter {
    private var bytes: [UInt8] = [UInt8(ascii: "{")]

    package init() {
        bytes.reserveCapacity(256)
    }

    package mutating func field(_ key: String, _ value: String?) {
        guard let value else { return }
        self.key(key)
        string(value)
    }

    package mutating func field(_ key: String, _ value: (some BinaryInteger)?) {
        guard let value else { return }
        self.key(key)
        bytes.append(contentsOf: String(value).utf8)
    }

    package mutating func field(_ key: String, _ value: Bool?) {
        guard let value else { return }
        self.key(key)
        bytes.append(contentsOf: (value ? "true" : "false").utf8)
    }

    /// A field whose value is an object, written by `write`.
    package mutating func object(_ key: String, _ write: (inout JSONObjectWriter) -> Void) {
        self.key(key)
        var nested = JSONObjectWriter()
        write(&nested)
        bytes.append(contentsOf: nested.finished())
    }

    /// A field whose value is an array of objects, each written by `write`.
    package mutating func objects<Element>(_ key: String, _ elements: [Element], _ write: (Element, inout JSONObjectWriter) -> Void) {
        self.key(key)
        bytes.append(UInt8(ascii: "["))
        for (index, element) in elements.enumerated() {
            if index > 0 { bytes.append(UInt8(ascii: ",")) }
            var nested = JSONObjectWriter()
            write(element, &nested)
            bytes.append(contentsOf: nested.finished())
        }
        bytes.append(UInt8(ascii: "]"))
    }

    /// The object, closed.
    package consuming func finished() -> [UInt8] {
        bytes.append(UInt8(ascii: "}"))
        return bytes
    }

    private mutating func key(_ key: String) {
        if bytes.count > 1 { bytes.append(UInt8(ascii: ",")) }
        string(key)
        bytes.append(UInt8(ascii: ":"))
    }

    /// A JSON string (RFC 8259): quotes, backslashes and control characters escaped, all else
    /// as UTF-8.
    private mutating func string(_ text: String) {
        bytes.append(UInt8(ascii: "\""))
        // Most text (keys, IDs, codes) needs no escaping: it is copied in one go.
        let copied = text.utf8.withContiguousStorageIfAvailable { utf8 in
            guard !utf8.contains(where: Self.needsEscaping) else { return false }
            bytes.append(contentsOf: utf8)
            return true
        }
        if copied != true {
            for byte in text.utf8 { escaped(byte) }
        }
        bytes.append(UInt8(ascii: "\""))
    }

    private static func needsEscaping(_ byte: UInt8) -> Bool {
        byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\")
    }

    private mutating func escaped(_ byte: UInt8) {
        switch byte {
        case UInt8(ascii: "\""): bytes.append(contentsOf: #"\""#.utf8)
        case UInt8(ascii: "\\"): bytes.append(contentsOf: #"\\"#.utf8)
        case UInt8(ascii: "\n"): bytes.append(contentsOf: #"\n"#.utf8)
        case UInt8(ascii: "\r"): bytes.append(contentsOf: #"\r"#.utf8)
        case UInt8(ascii: "\t"): bytes.append(contentsOf: #"\t"#.utf8)
        case 0..<0x20:
            let hex = String(byte, radix: 16)
            bytes.append(contentsOf: #"\u00"#.utf8)
            if hex.count == 1 { bytes.append(UInt8(ascii: "0")) }
            bytes.append(contentsOf: hex.utf8)
        default: bytes.append(byte)
        }
    }
}
