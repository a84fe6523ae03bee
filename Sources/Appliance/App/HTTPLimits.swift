import HummingbirdCore
import Logging
import NIOCore
import NIOHTTPTypes

/// Closes HTTP connections that are too slow: from accept, the TLS handshake and the first request
/// head must arrive within `requestTimeout`; every request's body too; once no request is being read
/// or answered, the next head must come within `idleTimeout`. Slowloris clients (a header byte every
/// few seconds) and silent sockets are gone after their timeout instead of holding a connection for
/// ever. A response may take as long as it takes. Sits after the HTTP decoder, so it sees request
/// heads and ends and response ends; requests may be pipelined and answered before their body is read
/// (a 401 or 413), so it counts what is in flight rather than assuming strict alternation.
final class RequestDeadlineHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    private let requestTimeout: TimeAmount
    private let idleTimeout: TimeAmount
    private var deadline: Scheduled<Void>?
    /// A request head arrived and its end did not yet.
    private var readingRequest = false
    /// Requests whose head arrived and whose response has not ended.
    private var unanswered = 0

    init(requestTimeout: TimeAmount, idleTimeout: TimeAmount) {
        self.requestTimeout = requestTimeout
        self.idleTimeout = idleTimeout
    }

    func handlerAdded(context: ChannelHandlerContext) {
        arm(requestTimeout, context)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        cancel()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head:
            readingRequest = true
            unanswered += 1
            arm(requestTimeout, context)  // the body must follow in time as well
        case .end:
            readingRequest = false
            settle(context)
        case .body:
            break
        }
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if case .end = unwrapOutboundIn(data) {
            unanswered = max(0, unanswered - 1)
            if !readingRequest { settle(context) }  // else the body's deadline stands
        }
        context.write(data, promise: promise)
    }

    /// No request is being read: wait for the next one if all are answered, else for nothing.
    private func settle(_ context: ChannelHandlerContext) {
        if unanswered == 0 { arm(idleTimeout, context) } else { cancel() }
    }

    private func arm(_ timeout: TimeAmount, _ context: ChannelHandlerContext) {
        deadline?.cancel()
        let channel = context.channel
        deadline = context.eventLoop.scheduleTask(in: timeout) { channel.close(promise: nil) }
    }

    private func cancel() {
        deadline?.cancel()
        deadline = nil
    }
}

/// Admits a connection only while fewer than the limit are open (both listeners share one counter);
/// one beyond it is closed at once, before any TLS work is spent on it.
struct LimitedChannel<Base: ServerChildChannel>: ServerChildChannel {
    typealias Value = Base.Value
    let base: Base
    let counter: ConnectionCounter

    struct Refused: Error {}

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        guard counter.enter() else {
            logger.warning("HTTP connection refused: http.max_connections reached", metadata: ["max_connections": "\(counter.limit)"])
            channel.close(promise: nil)
            return channel.eventLoop.makeFailedFuture(Refused())
        }
        channel.closeFuture.whenComplete { _ in counter.leave() }
        return base.setup(channel: channel, logger: logger).flatMapError { error in
            channel.close(promise: nil)  // NIO leaves a child whose set-up failed open
            return channel.eventLoop.makeFailedFuture(error)
        }
    }

    func handle(value: Value, logger: Logger) async {
        await base.handle(value: value, logger: logger)
    }
}

extension HTTPServerBuilder {
    /// Connections built by `build`, at most `counter.limit` at once.
    static func limited<Base: ServerChildChannel>(
        _ counter: ConnectionCounter, _ build: @escaping @Sendable (@escaping HTTPChannelHandler.Responder) -> Base
    ) -> HTTPServerBuilder {
        .init { responder in LimitedChannel(base: build(responder), counter: counter) }
    }
}
