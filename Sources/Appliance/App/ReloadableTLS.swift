import HummingbirdCore
import HummingbirdHTTP2
import Logging
import NIOCore
import NIOHTTP2
import NIOSSL
import Synchronization

/// The server's TLS context, replaceable at run time: a SIGHUP reload installs a new certificate
/// and key, and every connection accepted afterwards uses them (open connections keep theirs).
final class TLSContexts: Sendable {
    private let context: Mutex<NIOSSLContext>

    init(_ configuration: TLSConfiguration) throws { context = Mutex(try NIOSSLContext(configuration: configuration)) }

    var current: NIOSSLContext { context.withLock { $0 } }

    func replace(with configuration: TLSConfiguration) throws {
        let next = try NIOSSLContext(configuration: configuration)
        context.withLock { $0 = next }
    }
}

/// The TLS listener's connections: TLS with the context ``TLSContexts`` holds at accept, then
/// HTTP/2 or HTTP/1.1 as ALPN negotiates (RFC 7301; `h2` first, as Apple's LL-HLS profile wants;
/// a client that offers no ALPN gets HTTP/1.1). HummingbirdHTTP2's own upgrade channel fixes its
/// TLS context when it is made, so it cannot take a reloaded certificate.
struct ReloadableTLSChannel: ServerChildChannel {
    struct Value: ServerChildChannelValue {
        let negotiated: EventLoopFuture<NIONegotiatedHTTPVersion<HTTP1Channel.Value, HTTP2Channel.Value>>
        let channel: any Channel
    }

    let http1: HTTP1Channel
    let http2: HTTP2Channel
    let contexts: TLSContexts
    /// The handshake and negotiation must be done within this (HTTP/1.1's own deadlines start after).
    let handshakeTimeout: TimeAmount

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        channel.eventLoop.makeCompletedFuture {
            try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: contexts.current))
        }.flatMap {
            let deadline = channel.eventLoop.scheduleTask(in: handshakeTimeout) { channel.close(promise: nil) }
            return channel.configureHTTP2AsyncSecureUpgrade(
                http1ConnectionInitializer: { [http1] channel in http1.setup(channel: channel, logger: logger) },
                http2ConnectionInitializer: { [http2] channel in http2.setup(channel: channel, logger: logger) }
            ).map { negotiated in
                negotiated.whenComplete { _ in deadline.cancel() }
                return Value(negotiated: negotiated, channel: channel)
            }
        }
    }

    func handle(value: Value, logger: Logger) async {
        do {
            switch try await value.negotiated.get() {
            case .http1_1(let connection): await http1.handle(value: connection, logger: logger)
            case .http2(let connection): await http2.handle(value: connection, logger: logger)
            }
        } catch {
            logger.debug("TLS handshake or protocol negotiation failed", metadata: ["error": "\(error)"])
        }
    }
}
