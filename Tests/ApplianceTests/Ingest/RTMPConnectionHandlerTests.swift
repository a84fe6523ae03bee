import Logging
import Media
import NIOCore
import NIOEmbedded
import Testing
@testable import Appliance

/// The RTMP connection handler on an EmbeddedChannel: deadlines and hostile bytes end that connection.
@Suite struct RTMPConnectionHandlerTests {
    final class NoOutputs: StreamOutputFactory {
        func makeOutput(for stream: LiveStream, onPlayable: @escaping @Sendable () -> Void) -> any StreamOutput { RecordingOutput() }
        func removeFiles(of liveStreamID: String) {}
    }

    func channel(handshakeTimeout: TimeAmount = .seconds(10)) throws -> EmbeddedChannel {
        let hub = StreamHub(directory: LiveStreamStore(), outputs: NoOutputs(), events: LifecycleEvents(logger: Logger(label: "test")),
                            logger: Logger(label: "test"))
        let channel = EmbeddedChannel()
        try channel.pipeline.syncOperations.addHandler(
            RTMPConnectionHandler(hub: hub, configuration: RTMPConfiguration(), handshakeTimeout: handshakeTimeout, logger: Logger(label: "test")))
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        return channel
    }

    @Test func noPublishWithinTheHandshakeTimeoutClosesTheConnection() throws {
        let channel = try channel(handshakeTimeout: .seconds(10))
        try channel.writeInbound(ByteBuffer(bytes: [0x03] + [UInt8](repeating: 0, count: 1536)))  // C0 + C1: a handshake starts
        #expect(try channel.readOutbound(as: ByteBuffer.self) != nil, "S0 S1 S2 answered")
        channel.embeddedEventLoop.advanceTime(by: .seconds(9))
        #expect(channel.isActive)
        channel.embeddedEventLoop.advanceTime(by: .seconds(2))
        #expect(!channel.isActive)
    }

    @Test func aWrongVersionEndsTheConnectionAtOnce() throws {
        let channel = try channel()
        try channel.writeInbound(ByteBuffer(bytes: [0x09] + [UInt8](repeating: 0, count: 1536)))
        #expect(!channel.isActive)
    }

    @Test func anOversizedMessageEndsTheConnection() throws {
        let channel = try channel()
        var handshake = ByteBuffer(bytes: [0x03] + [UInt8](repeating: 0, count: 1536))
        try channel.writeInbound(handshake)
        var answer = try #require(try channel.readOutbound(as: ByteBuffer.self))
        let s1 = answer.getSlice(at: answer.readerIndex + 1, length: 1536)!
        handshake = s1  // C2 echoes S1
        try channel.writeInbound(handshake)
        #expect(channel.isActive)
        // A chunk header announcing a 16 MB message, over the 8 MB default limit.
        try channel.writeInbound(ByteBuffer(bytes: [0x03, 0x00, 0x00, 0x00, 0xFF, 0xFF, 0xFF, 0x09, 0x01, 0x00, 0x00, 0x00]))
        #expect(!channel.isActive)
        _ = answer.readBytes(length: answer.readableBytes)
    }
}
