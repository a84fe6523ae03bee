import Logging
import Media
import NIOCore
import NIOPosix

/// The RTMP listener: one ``RTMPConnectionHandler`` per TCP connection, with an idle timeout and a
/// cap on simultaneous connections.
final class RTMPServer: Sendable {
    private let channel: any Channel

    /// The bound address (port 0 in the config picks a free port).
    var localAddress: SocketAddress? { channel.localAddress }

    private init(channel: any Channel) {
        self.channel = channel
    }

    /// Binds `config.listen` and starts accepting.
    static func start(config: Config.RTMP, hub: StreamHub, group: any EventLoopGroup, logger: Logger) async throws -> RTMPServer {
        let counter = ConnectionCounter(limit: config.maxConnections)
        let rtmp = RTMPConfiguration(
            maximumMessageSize: config.maxMessageSize,
            maximumChunkStreams: config.maxChunkStreams,
            maximumAMFDepth: config.maxAMFDepth,
            outgoingChunkSize: config.chunkSize)
        let handshakeTimeout = TimeAmount.milliseconds(Int64(config.handshakeTimeout * 1000))
        let idleTimeout = TimeAmount.milliseconds(Int64(config.idleTimeout * 1000))
        let channel = try await ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelOption(.maxMessagesPerRead, value: 16)
            .childChannelInitializer { channel in
                guard counter.enter() else {
                    logger.warning("connection refused: max_connections reached", metadata: ["max_connections": "\(config.maxConnections)"])
                    return channel.close()
                }
                channel.closeFuture.whenComplete { _ in counter.leave() }
                return channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandlers([
                        IdleStateHandler(readTimeout: idleTimeout),
                        RTMPConnectionHandler(hub: hub, configuration: rtmp, handshakeTimeout: handshakeTimeout, logger: logger),
                    ])
                }
            }
            .bind(host: config.listen.host, port: config.listen.port)
            .get()
        return RTMPServer(channel: channel)
    }

    /// Stops accepting new connections.
    func close() async {
        try? await channel.close()
    }
}

extension SocketAddress {
    /// `host:port` (`[v6]:port`) for logs.
    var endpoint: String {
        guard let ip = ipAddress, let port else { return "\(self)" }
        return ip.contains(":") ? "[\(ip)]:\(port)" : "\(ip):\(port)"
    }
}
