import AsyncHTTPClient
import Foundation

/// `GET url` with a short timeout: the status and the body as text.
public func httpGet(_ url: String) async throws -> (status: Int, body: String) {
    let response = try await HTTPClient.shared.execute(HTTPClientRequest(url: url), timeout: .seconds(5))
    let body = try await response.body.collect(upTo: 4 << 20)
    return (Int(response.status.code), String(buffer: body))
}

/// The value of the Prometheus sample `series` (name with its labels exactly as rendered) in
/// `text`, if present.
public func prometheusValue(_ series: String, in text: String) -> Double? {
    for line in text.split(separator: "\n") where line.hasPrefix(series + " ") {
        return Double(line.dropFirst(series.count + 1).trimmingCharacters(in: .whitespaces))
    }
    return nil
}
