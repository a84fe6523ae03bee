import HummingbirdCore
import Logging
import NIOCore
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

/// Like HummingbirdTLS's TLSChannel, but takes the TLS context from ``TLSContexts`` per connection.
struct ReloadableTLSChannel<Base: ServerChildChannel>: ServerChildChannel {
    typealias Value = Base.Value
    let base: Base
    let contexts: TLSContexts

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        channel.eventLoop.makeCompletedFuture {
            try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: contexts.current))
        }.flatMap {
            base.setup(channel: channel, logger: logger)
        }
    }

    func handle(value: Value, logger: Logger) async {
        await base.handle(value: value, logger: logger)
    }
}
