import NIOCore

// RTMP 1.0 §5.2 (handshake) and §7.2 (commands), the publishing client's side, as OBS, ffmpeg and
// FMLE speak it to nginx-rtmp, YouTube, Facebook and Mux:
//
//   C0 C1 ->             <- S0 S1 S2             C2 ->
//   Set Chunk Size, connect(1) ->                <- Window Ack Size, Set Peer Bandwidth, _result(1)
//   releaseStream(2), FCPublish(3), createStream(4) ->           <- _result(4, stream id)
//   publish(5, name, "live") on the stream ->    <- onStatus NetStream.Publish.Start
//   @setDataFrame onMetaData, then audio and video (FLV tag bodies) on the stream
//   FCUnpublish(6), deleteStream(7) -> at the end

/// What an ``RTMPClientSession`` tells its owner, in order.
public enum RTMPClientAction: Sendable, Equatable {
    /// Bytes to write to the socket, in order.
    case send(ByteBuffer)
    /// The server accepted the publish: media may flow (``RTMPClientSession/media(_:)``).
    case publishing
    /// The server refused the connect, the stream or the publish; the owner closes the connection.
    /// `code` is the server's (e.g. `NetStream.Publish.BadName`); `refusedCredentials` is true when
    /// the target said no to what it was given (the app, the stream key) rather than failing.
    case refused(code: String, description: String, refusedCredentials: Bool)
}

/// The client side of one RTMP publishing connection: bytes in, ``RTMPClientAction``s out, media
/// messages chunked on request. A pure state machine like ``RTMPServerSession``: the owner writes
/// what it is given and feeds what it reads. The simple handshake (C1 version zero) is used, which
/// every server accepts from encoders. The server's Set Chunk Size and Window Acknowledgement Size
/// are honoured (acknowledgements go out per window of bytes read), pings are answered.
public struct RTMPClientSession: Sendable {
    /// Where the session stands.
    public enum State: Sendable, Equatable {
        /// C0+C1 sent, waiting for S0+S1+S2.
        case handshaking
        /// connect sent.
        case connecting
        /// createStream sent.
        case creatingStream
        /// publish sent on `streamID`.
        case awaitingPublish(streamID: UInt32)
        /// Publishing on `streamID`: media may be sent.
        case publishing(streamID: UInt32)
        /// Refused or ended: nothing more is sent.
        case closed
    }

    /// The application (the URL's path), e.g. `live2` or `app`.
    public let app: String
    /// The `tcUrl` of connect: `rtmp://host[:port]/app`.
    public let tcUrl: String
    /// The stream name to publish (the stream key, with any query it carries).
    public let streamName: String
    /// Chunk size announced to and used for the server (4096, as OBS and ffmpeg).
    public let outgoingChunkSize: Int

    /// Where the session stands.
    public private(set) var state = State.handshaking
    private var input = ByteBuffer()
    private var decoder: RTMPChunkDecoder
    private var encoder = RTMPChunkEncoder()
    private var configuration: RTMPConfiguration
    private var random: HandshakeRandom
    private var bytesReceived: UInt64 = 0
    private var bytesAcknowledged: UInt64 = 0
    private var acknowledgementWindow: UInt32 = 0

    /// Chunk streams, as ffmpeg's RTMP muxer uses them.
    static let commandChunkStream: UInt32 = 3
    static let audioChunkStream: UInt32 = 4
    static let dataChunkStream: UInt32 = 5
    static let videoChunkStream: UInt32 = 6

    /// Transaction ids of the commands whose answers matter.
    private static let connectTransaction = 1.0
    private static let createStreamTransaction = 4.0
    private static let publishTransaction = 5.0

    /// A session publishing `streamName` to `app` at `tcUrl`; `handshakeRandom` (cycled) replaces
    /// the system generator, for golden tests. `configuration` bounds what the server may send.
    public init(app: String, tcUrl: String, streamName: String, configuration: RTMPConfiguration = .init(),
                outgoingChunkSize: Int = 4096, handshakeRandom: [UInt8]? = nil) {
        self.app = app
        self.tcUrl = tcUrl
        self.streamName = streamName
        self.configuration = configuration
        self.outgoingChunkSize = min(max(outgoingChunkSize, 128), 0xFF_FFFF)
        decoder = RTMPChunkDecoder(configuration: configuration)
        random = HandshakeRandom(fixed: handshakeRandom)
    }

    /// C0+C1: the first bytes to write once connected.
    public mutating func start() -> ByteBuffer {
        var out = ByteBuffer()
        out.writeInteger(UInt8(3))
        out.writeBytes([UInt8](repeating: 0, count: 8))  // time 0, version 0: the simple handshake
        out.writeBytes(random.bytes(RTMPHandshakeDigest.packetLength - 8))
        return out
    }

    /// Whether media may be sent.
    public var isPublishing: Bool {
        if case .publishing = state { return true }
        return false
    }

    /// Consumes `buffer` (any split of the stream); throws ``RTMPError`` for what no server sends.
    public mutating func receive(_ buffer: inout ByteBuffer) throws -> [RTMPClientAction] {
        bytesReceived &+= UInt64(buffer.readableBytes)
        input.writeBuffer(&buffer)
        defer { input.discardReadBytes() }
        var actions: [RTMPClientAction] = []
        var out = ByteBuffer()
        if state == .handshaking {
            let length = RTMPHandshakeDigest.packetLength
            guard let version = input.getInteger(at: input.readerIndex, as: UInt8.self) else { return [] }
            guard version == 3 else { throw RTMPError.unsupportedHandshakeVersion(version) }
            guard input.readableBytes >= 1 + 2 * length else { return [] }
            input.moveReaderIndex(forwardBy: 1)
            let s1 = input.readSlice(length: length)!
            input.moveReaderIndex(forwardBy: length)  // S2: not checked (servers differ, as encoders do)
            out.writeImmutableBuffer(s1)  // C2 echoes S1
            encoder.encode(RTMPControlMessage.setChunkSize(outgoingChunkSize), chunkStreamID: RTMPControlMessage.chunkStreamID, into: &out)
            encoder.chunkSize = outgoingChunkSize
            let properties = AMFValue.object(pairs: [
                "app": .string(app), "type": .string("nonprivate"), "flashVer": .string("FMLE/3.0 (compatible; onair)"),
                "tcUrl": .string(tcUrl),
            ])
            command(RTMPCommand(name: "connect", transactionID: Self.connectTransaction, commandObject: properties), into: &out)
            state = .connecting
        }
        while state != .closed, let message = try decoder.decode(&input) {
            if let action = try handle(message, &out) {
                if out.readableBytes > 0 { actions.append(.send(out)); out = ByteBuffer() }
                actions.append(action)
            }
        }
        if acknowledgementWindow > 0, bytesReceived &- bytesAcknowledged >= UInt64(acknowledgementWindow) {
            bytesAcknowledged = bytesReceived
            encoder.encode(RTMPControlMessage.acknowledgement(UInt32(truncatingIfNeeded: bytesReceived)),
                           chunkStreamID: RTMPControlMessage.chunkStreamID, into: &out)
        }
        if out.readableBytes > 0 { actions.append(.send(out)) }
        return actions
    }

    /// One media message (``RTMPMessageType/audio``, ``RTMPMessageType/video`` or an AMF0 data
    /// message) on the published stream, chunked into `buffer`. Nothing while not publishing.
    public func media(_ message: RTMPMessage, into buffer: inout ByteBuffer) {
        guard case .publishing(let streamID) = state else { return }
        var message = message
        message.messageStreamID = streamID
        let chunkStream = switch message.type {
        case .audio: Self.audioChunkStream
        case .video: Self.videoChunkStream
        default: Self.dataChunkStream
        }
        encoder.encode(message, chunkStreamID: chunkStream, into: &buffer)
    }

    /// FCUnpublish and deleteStream, for a clean end; the session is closed after it.
    public mutating func unpublish() -> ByteBuffer {
        var out = ByteBuffer()
        if case .publishing(let streamID) = state {
            command(RTMPCommand(name: "FCUnpublish", transactionID: 6, arguments: [.string(streamName)]), into: &out)
            command(RTMPCommand(name: "deleteStream", transactionID: 7, arguments: [.number(Double(streamID))]), into: &out)
        }
        state = .closed
        return out
    }

    // MARK: Messages

    private mutating func handle(_ message: RTMPMessage, _ out: inout ByteBuffer) throws -> RTMPClientAction? {
        switch message.type {
        case .windowAcknowledgementSize:
            guard let size = message.payload.getInteger(at: message.payload.readerIndex, as: UInt32.self) else {
                throw RTMPError.malformedControlMessage(type: message.type.rawValue, length: message.payload.readableBytes)
            }
            acknowledgementWindow = size
        case .userControl:
            let payload = message.payload
            if payload.getInteger(at: payload.readerIndex, as: UInt16.self) == RTMPUserControlEvent.pingRequest.rawValue,
               let timestamp = payload.getInteger(at: payload.readerIndex + 2, as: UInt32.self) {
                encoder.encode(RTMPControlMessage.userControl(.pingResponse, timestamp), chunkStreamID: RTMPControlMessage.chunkStreamID, into: &out)
            }
        case .amf0Command, .amf3Command:
            return try reply(RTMPCommand(decoding: message, maximumDepth: configuration.maximumAMFDepth), &out)
        default:
            break  // chunk size (applied by the decoder), acks, bandwidth, anything a server sends a publisher
        }
        return nil
    }

    private mutating func reply(_ reply: RTMPCommand, _ out: inout ByteBuffer) throws -> RTMPClientAction? {
        let information = reply.arguments.first
        let code = information?["code"]?.stringValue ?? ""
        let description = information?["description"]?.stringValue ?? ""
        switch (reply.name, state) {
        case ("_result", .connecting) where reply.transactionID == Self.connectTransaction:
            command(RTMPCommand(name: "releaseStream", transactionID: 2, arguments: [.string(streamName)]), into: &out)
            command(RTMPCommand(name: "FCPublish", transactionID: 3, arguments: [.string(streamName)]), into: &out)
            command(RTMPCommand(name: "createStream", transactionID: Self.createStreamTransaction), into: &out)
            state = .creatingStream
        case ("_error", .connecting) where reply.transactionID == Self.connectTransaction:
            state = .closed
            return .refused(code: code.isEmpty ? "NetConnection.Connect.Rejected" : code, description: description, refusedCredentials: true)
        case ("_result", .creatingStream) where reply.transactionID == Self.createStreamTransaction:
            guard let number = reply.arguments.first?.numberValue, number >= 1, number <= Double(UInt32.max) else {
                throw RTMPError.malformedCommand(name: "_result", reason: "createStream answered without a stream id")
            }
            let streamID = UInt32(number)
            let publish = RTMPCommand(name: "publish", transactionID: Self.publishTransaction,
                                      arguments: [.string(streamName), .string("live")]).message(messageStreamID: streamID)
            encoder.encode(publish, chunkStreamID: RTMPServerSession.statusChunkStream, into: &out)
            state = .awaitingPublish(streamID: streamID)
        case ("_error", .creatingStream) where reply.transactionID == Self.createStreamTransaction:
            state = .closed
            return .refused(code: code.isEmpty ? "NetStream.Failed" : code, description: description, refusedCredentials: false)
        case ("onStatus", .awaitingPublish(let streamID)):
            if code == "NetStream.Publish.Start" {
                state = .publishing(streamID: streamID)
                return .publishing
            }
            if information?["level"]?.stringValue == "error" {
                state = .closed
                return .refused(code: code, description: description, refusedCredentials: code.hasPrefix("NetStream.Publish."))
            }
        case ("_error", .awaitingPublish) where reply.transactionID == Self.publishTransaction:
            state = .closed
            return .refused(code: code.isEmpty ? "NetStream.Publish.Failed" : code, description: description, refusedCredentials: true)
        case ("onStatus", .publishing):
            // A server ending the publish (nginx-rtmp's drop_idle_publisher, a key revoked) says so.
            if information?["level"]?.stringValue == "error" || code == "NetStream.Unpublish.Success" {
                state = .closed
                return .refused(code: code, description: description, refusedCredentials: false)
            }
        default:
            break  // releaseStream/FCPublish answers (or their _error, which YouTube sends), onBWDone, onFCPublish
        }
        return nil
    }

    private func command(_ command: RTMPCommand, into out: inout ByteBuffer) {
        encoder.encode(command.message(), chunkStreamID: Self.commandChunkStream, into: &out)
    }
}
