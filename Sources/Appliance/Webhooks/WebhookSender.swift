import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL

/// What became of one POST.
struct WebhookResponse: Sendable, Equatable {
    /// Nil when no answer came: `error` says why (refused, timed out, TLS).
    var status: Int?
    var headers: [String: String] = [:]
    /// The start of the answer's body (at most ``WebhookSender/bodyKept`` bytes).
    var body: String?
    var error: String?

    var succeeded: Bool { status.map { (200..<300).contains($0) } ?? false }
}

/// Sends one endpoint's POSTs (a protocol so the delivery loop's tests need no network).
protocol WebhookSending: Sendable {
    func post(_ body: Data, headers: [(String, String)], timeout: Duration) async -> WebhookResponse
    func shutdown() async
}

/// AsyncHTTPClient, one client per endpoint (its own connection pool: a slow endpoint cannot take
/// another's connections), TLS 1.2+ verified against the system store plus the endpoint's CA file,
/// no redirects (a 3xx is a failed attempt), the whole attempt cut at `timeout`.
final class WebhookSender: WebhookSending {
    /// Bytes of a response body kept for the attempt record.
    static let bodyKept = 4096
    private let url: String
    private let client: HTTPClient

    init(url: String, caFile: String?) {
        self.url = url
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.minimumTLSVersion = .tlsv12
        if let caFile { tls.additionalTrustRoots = [.file(caFile)] }
        var configuration = HTTPClient.Configuration(tlsConfiguration: tls, redirectConfiguration: .disallow,
                                                     timeout: .init(connect: .seconds(5)))
        configuration.httpVersion = .http1Only
        configuration.connectionPool = .init(idleTimeout: .seconds(30), concurrentHTTP1ConnectionsPerHostSoftLimit: 8)
        // A refused connection is a failed attempt at once (the schedule retries), not 5 s of reconnecting.
        configuration.connectionPool.retryConnectionEstablishment = false
        client = HTTPClient(eventLoopGroup: MultiThreadedEventLoopGroup.singleton, configuration: configuration)
    }

    func post(_ body: Data, headers: [(String, String)], timeout: Duration) async -> WebhookResponse {
        var request = HTTPClientRequest(url: url)
        request.method = .POST
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        request.body = .bytes(ByteBuffer(data: body))
        let client = self.client, prepared = request
        do {
            return try await withThrowingTaskGroup(of: WebhookResponse.self) { group in
                group.addTask {
                    let response = try await client.execute(prepared, timeout: TimeAmount(timeout))
                    var kept = ByteBuffer()
                    for try await var chunk in response.body {
                        let room = Self.bodyKept - kept.readableBytes
                        if room <= 0 { break }
                        if let part = chunk.readSlice(length: min(room, chunk.readableBytes)) { kept.writeImmutableBuffer(part) }
                    }
                    var headers: [String: String] = [:]
                    for (name, value) in response.headers { headers[name.lowercased()] = headers[name.lowercased()].map { "\($0), \(value)" } ?? value }
                    return WebhookResponse(status: Int(response.status.code), headers: headers,
                                           body: String(decoding: kept.readableBytesView, as: UTF8.self))
                }
                group.addTask {
                    try await Task.sleep(for: timeout)
                    return WebhookResponse(error: "no answer within \(timeout)")
                }
                let first = try await group.next()!
                group.cancelAll()
                return first
            }
        } catch let error as HTTPClientError where error == .deadlineExceeded {
            return WebhookResponse(error: "no answer within \(timeout)")
        } catch {
            return WebhookResponse(error: "\(error)")
        }
    }

    func shutdown() async {
        try? await client.shutdown()
    }
}
