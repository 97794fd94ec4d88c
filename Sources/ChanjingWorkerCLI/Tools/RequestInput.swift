import Foundation

/// Request messages given to `enqueue`: each is the raw bytes of one JSON object, with where it
/// came from for error reports.
struct RequestInput: Sendable {
    var origin: String
    var bytes: [UInt8]

    /// Splits `data` into messages: a JSON array of objects, a single object, or NDJSON (one
    /// object per line; blank lines skipped).
    static func parse(_ data: Data, name: String) -> [RequestInput] {
        let text = String(decoding: data, as: UTF8.self)
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        if trimmed.hasPrefix("["), let array = try? JSONSerialization.jsonObject(with: Data(trimmed.utf8)) as? [Any] {
            // Re-serialised one by one; the worker's strict parser sees each element's own text.
            return array.enumerated().map { index, element in
                let bytes = (try? JSONSerialization.data(withJSONObject: element, options: [.withoutEscapingSlashes])) ?? Data("\(element)".utf8)
                return RequestInput(origin: "\(name)[\(index)]", bytes: Array(bytes))
            }
        }
        var inputs: [RequestInput] = []
        for (index, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let content = line.trimmingCharacters(in: .whitespaces)
            guard !content.isEmpty else { continue }
            inputs.append(RequestInput(origin: "\(name):\(index + 1)", bytes: Array(content.utf8)))
        }
        return inputs
    }
}
