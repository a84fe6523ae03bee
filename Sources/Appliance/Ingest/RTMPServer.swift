import Logging
import Media
import NIOCore
import NIOPosix
import ServiceLifecycle
import Synchronization

/// What the RTMP listener needs (App maps `rtmp.*` into it).
struct IngestSettings: Sendable {
    var host = "0.0.0.0"
    var port = 1935
    var session = RTMPConfiguration()
    var handshakeTimeout: TimeAmount = .seconds(10)
    var idleTimeout: TimeAmount = .seconds(30)
    var maxConnections = 1000
}

/// The RTMP listener as a Service: binds in `run()`, reports the bound address, accepts until graceful
/// shutdown. One ``RTMPConnectionHandler`` per TCP connection, with an idle timeout and a cap on
/// simultaneous connections.
final class RTMPServer: Service, Sendable {
    private let settings: IngestSettings
    private let hub: StreamHub
    private let group: any EventLoopGroup
    private let logger: Logger
    private let onListening: @Sendable (SocketAddress?) async -> Void
    private let bound = Mutex<SocketAddress?>(nil)

    init(settings: IngestSettings, hub: StreamHub, group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
         logger: Logger, onListening: @escaping @Sendable (SocketAddress?) async -> Void = { _ in }) {
        self.settings = settings
        self.hub = hub
        self.group = group
        self.logger = logger
        self.onListening = onListening
    }

    /// The bound address once listening (port 0 in the config picks a free port).
    var localAddress: SocketAddress? { bound.withLock { $0 } }

    func run() async throws {
        let channel = try await bind()
        bound.withLock { $0 = channel.localAddress }
        logger.info("RTMP listening", metadata: ["rtmp": "\(channel.localAddress?.endpoint ?? "?")"])
        await onListening(channel.localAddress)
        try? await gracefulShutdown()
        logger.notice("stopping ingest: no new RTMP connections")
        try? await channel.close()
    }

    private func bind() async throws -> any Channel {
        let counter = ConnectionCounter(limit: settings.maxConnections)
        let settings = settings, hub = hub, logger = logger
        return try await ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            // IPPROTO_TCP: `.socketOption(.tcp_nodelay)` would set SOL_SOCKET option 1, SO_DEBUG, which needs
            // CAP_NET_ADMIN: as the service user every RTMP connection was closed at accept.
            .childChannelOption(.tcpOption(.tcp_nodelay), value: 1)
            .childChannelOption(.maxMessagesPerRead, value: 16)
            .childChannelInitializer { channel in
                guard counter.enter() else {
                    logger.warning("connection refused: max_connections reached", metadata: ["max_connections": "\(settings.maxConnections)"])
                    return channel.close()
                }
                channel.closeFuture.whenComplete { _ in counter.leave() }
                return channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandlers([
                        IdleStateHandler(readTimeout: settings.idleTimeout),
                        RTMPConnectionHandler(hub: hub, configuration: settings.session,
                                              handshakeTimeout: settings.handshakeTimeout, logger: logger),
                    ])
                }
            }
            .bind(host: settings.host, port: settings.port)
            .get()
    }
}

extension SocketAddress {
    /// `host:port` (`[v6]:port`) for logs.
    var endpoint: String {
        guard let ip = ipAddress, let port else { return "\(self)" }
        return ip.contains(":") ? "[\(ip)]:\(port)" : "\(ip):\(port)"
    }
}
