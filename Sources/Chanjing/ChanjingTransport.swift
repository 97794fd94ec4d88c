import AsyncHTTPClient
import Foundation
import NIOCore
import NIOFoundationCompat
import NIOHTTP1
import NIOPosix

/// Sends one JSON call to Chanjing and unwraps the envelope. Shared by the client and the
/// credentials token source; knows nothing about tokens beyond sending the header.
struct ChanjingTransport: Sendable {
    let httpClient: HTTPClient
    let baseURL: String
    let requestTimeout: Duration
    /// Largest response body read.
    static let maxResponseBytes = 1 << 20

    func post<Payload: Decodable>(
        _ path: String,
        body: some Encodable,
        accessToken: String?,
        as payload: Payload.Type
    ) async throws(ChanjingError) -> (Payload, traceID: String?) {
        try await execute(makeRequest(path, method: .POST, body: body, accessToken: accessToken), as: payload)
    }

    func get<Payload: Decodable>(
        _ path: String,
        query: [(String, String)],
        accessToken: String?,
        as payload: Payload.Type
    ) async throws(ChanjingError) -> (Payload, traceID: String?) {
        var components = URLComponents()
        components.queryItems = query.map { URLQueryItem(name: $0.0, value: $0.1) }
        let suffix = components.percentEncodedQuery.map { "?" + $0 } ?? ""
        return try await execute(makeRequest(path + suffix, method: .GET, body: nil as Never?, accessToken: accessToken), as: payload)
    }

    /// The HTTP request of a call, built apart from the async functions that send it: every
    /// call in flight holds their frames while it waits for Chanjing, and this one's locals
    /// would add to them.
    @inline(never)
    private func makeRequest(_ pathAndQuery: String, method: HTTPMethod, body: (some Encodable)?, accessToken: String?) throws(ChanjingError) -> HTTPClientRequest {
        var request = HTTPClientRequest(url: baseURL + pathAndQuery)
        request.method = method
        if let body {
            do {
                request.body = .bytes(ByteBuffer(data: try JSONEncoder().encode(body)))
            } catch {
                throw .malformedResponse("cannot encode the request body: \(error)")
            }
        }
        request.headers.add(name: "Content-Type", value: "application/json")
        request.headers.add(name: "Accept", value: "application/json")
        if let accessToken { request.headers.add(name: "access_token", value: accessToken) }
        return request
    }

    private func execute<Payload: Decodable>(_ request: HTTPClientRequest, as payload: Payload.Type) async throws(ChanjingError) -> (Payload, traceID: String?) {
        let status: Int
        let body: ByteBuffer
        do {
            let response = try await httpClient.execute(request, timeout: .nanoseconds(Int64(requestTimeout.nanoseconds)))
            status = Int(response.status.code)
            body = try await response.body.collect(upTo: Self.maxResponseBytes)
        } catch {
            throw .transport(Self.describe(error), requestSent: !Self.failedBeforeSending(error))
        }
        return try Self.unwrap(status: status, body: body, as: payload)
    }

    /// The payload of a Chanjing answer, or the error it stands for. The envelope's code wins
    /// over the HTTP status; a body that is not an envelope is classified by the status.
    @inline(never)
    static func unwrap<Payload: Decodable>(status: Int, body: ByteBuffer, as payload: Payload.Type) throws(ChanjingError) -> (Payload, traceID: String?) {
        let decoder = JSONDecoder()
        let bytes = Data(buffer: body, byteTransferStrategy: .noCopy)
        // The usual answer is read in one pass; only one that does not fit is read again for
        // its header alone, so that its code is still reported.
        let envelope: ChanjingEnvelope<Payload>
        do {
            envelope = try decoder.decode(ChanjingEnvelope<Payload>.self, from: bytes)
        } catch {
            guard let header = try? decoder.decode(ChanjingEnvelopeHeader.self, from: bytes) else {
                guard (200..<300).contains(status) else { throw .httpStatus(status) }
                throw .malformedResponse("HTTP \(status) with a body that is not a Chanjing envelope (\(body.readableBytes) bytes)")
            }
            try check(code: header.code, message: header.message, traceID: header.traceID, status: status)
            throw .malformedResponse("code 0 but data is not a \(Payload.self): \(error)")
        }
        try check(code: envelope.code, message: envelope.message, traceID: envelope.traceID, status: status)
        guard let data = envelope.data else { throw .malformedResponse("code 0 without data") }
        return (data, envelope.traceID)
    }

    /// Throws the error an envelope's code stands for, else the HTTP status's.
    private static func check(code: Int, message: String?, traceID: String?, status: Int) throws(ChanjingError) {
        guard code == 0 else { throw .api(code: code, message: message ?? "", traceID: traceID) }
        guard (200..<300).contains(status) else { throw .httpStatus(status) }
    }

    /// True when the error happened before the request could have reached the server:
    /// nothing can have been created.
    static func failedBeforeSending(_ error: any Error) -> Bool {
        if let error = error as? HTTPClientError {
            return [
                .connectTimeout, .getConnectionFromPoolTimeout, .tlsHandshakeTimeout, .httpProxyHandshakeTimeout,
                .socksHandshakeTimeout, .invalidURL, .emptyHost, .emptyScheme, .alreadyShutdown,
                .proxyAuthenticationRequired, .invalidProxyResponse,
            ].contains(error)
        }
        if let error = error as? ChannelError, case .connectTimeout = error { return true }
        if let error = error as? IOError {
            return [ECONNREFUSED, ENETUNREACH, EHOSTUNREACH, EADDRNOTAVAIL].contains(error.errnoCode)
        }
        // Every address refused or unreachable: nothing was sent.
        return error is NIOConnectionError
    }

    static func describe(_ error: any Error) -> String {
        if let error = error as? HTTPClientError { return error.description }
        return String(describing: error)
    }
}

extension Duration {
    var nanoseconds: Double {
        Double(components.seconds) * 1e9 + Double(components.attoseconds) / 1e9
    }
}
