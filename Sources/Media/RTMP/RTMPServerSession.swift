import NIOCore

/// The server side of one RTMP connection (publish only): bytes in, ``RTMPSessionAction``s out.
///
/// A pure state machine: handshake, chunk reassembly, protocol control, commands, and the
/// publish decision handed to the owner. Media and metadata are emitted only after
/// ``acceptPublish()``; anything before is dropped. Errors end this connection only.
public struct RTMPServerSession: Sendable {
    /// The limits and announced values.
    public let configuration: RTMPConfiguration
    private var handshake: RTMPServerHandshake
    private var input = ByteBuffer()
    private var decoder: RTMPChunkDecoder
    var encoder = RTMPChunkEncoder()
    private var bytesReceived: UInt64 = 0
    private var bytesAcknowledged: UInt64 = 0
    private var acknowledgementWindow: UInt32 = 0
    var app: String?
    var nextStreamID: UInt32 = 1
    var publish: Publish?
    var clocks: [UInt32: RTMPTimestampUnwrapper] = [:]

    /// The stream being (or asking to be) published.
    struct Publish: Sendable {
        var messageStreamID: UInt32
        var name: String
        var accepted: Bool
    }

    /// Chunk stream of command replies on the NetConnection.
    static let commandChunkStream: UInt32 = 3
    /// Chunk stream of onStatus messages on a NetStream.
    static let statusChunkStream: UInt32 = 5

    /// Creates a session; `handshakeRandom` (cycled) replaces the system generator, for golden tests.
    public init(configuration: RTMPConfiguration = .init(), handshakeRandom: [UInt8]? = nil) {
        self.configuration = configuration
        handshake = RTMPServerHandshake(random: handshakeRandom)
        decoder = RTMPChunkDecoder(configuration: configuration)
    }

    /// Whether a publish was accepted and not ended.
    public var isPublishing: Bool { publish?.accepted == true }

    /// Consumes `buffer` (any split of the stream), keeping partial input internally.
    public mutating func receive(_ buffer: inout ByteBuffer) throws -> [RTMPSessionAction] {
        bytesReceived &+= UInt64(buffer.readableBytes)
        if input.readableBytes == 0 {
            // Nothing left over from the last read: adopt the caller's bytes instead of copying them.
            input = buffer
            buffer.moveReaderIndex(to: buffer.writerIndex)
        } else {
            input.writeBuffer(&buffer)
        }
        var outbox = RTMPSessionOutbox()
        defer {
            // Usually nothing or a partial chunk is left: move the rest to the front only when the
            // buffer is empty (indices reset, nothing copied) or mostly consumed.
            if input.readableBytes == 0 || input.readerIndex > input.capacity / 2 {
                input.discardReadBytes()
            }
        }

        while handshake.state != .complete {
            let before = handshake.state
            if let reply = try handshake.receive(&input) { outbox.append(.send(reply)) }
            if handshake.state == before { return outbox.finish() }
        }
        while let message = try decoder.decode(&input) {
            try handle(message, &outbox)
        }
        // §5.4.3: acknowledge each time a window's worth of bytes arrived since the last one.
        if acknowledgementWindow > 0, bytesReceived &- bytesAcknowledged >= UInt64(acknowledgementWindow) {
            bytesAcknowledged = bytesReceived
            send(RTMPControlMessage.acknowledgement(UInt32(truncatingIfNeeded: bytesReceived)),
                 chunkStreamID: RTMPControlMessage.chunkStreamID, &outbox)
        }
        return outbox.finish()
    }

    /// Accepts the requested publish: StreamBegin and onStatus NetStream.Publish.Start. Media flows after this.
    public mutating func acceptPublish() -> [RTMPSessionAction] {
        guard var publish, !publish.accepted else { return [] }
        publish.accepted = true
        self.publish = publish
        var outbox = RTMPSessionOutbox()
        send(RTMPControlMessage.userControl(.streamBegin, publish.messageStreamID),
             chunkStreamID: RTMPControlMessage.chunkStreamID, &outbox)
        let status = RTMPCommand.onStatus(level: "status", code: "NetStream.Publish.Start",
                                          description: "\(publish.name) is now published.", details: publish.name)
        send(status.message(messageStreamID: publish.messageStreamID), chunkStreamID: Self.statusChunkStream, &outbox)
        return outbox.finish()
    }

    /// Refuses the requested publish with an error onStatus (e.g. `NetStream.Publish.BadName`).
    /// The owner then flushes and closes the connection (old OBS versions hang otherwise).
    public mutating func rejectPublish(code: String, description: String) -> [RTMPSessionAction] {
        let streamID = publish?.messageStreamID ?? 1
        publish = nil
        var outbox = RTMPSessionOutbox()
        let status = RTMPCommand.onStatus(level: "error", code: code, description: description)
        send(status.message(messageStreamID: streamID), chunkStreamID: Self.statusChunkStream, &outbox)
        return outbox.finish()
    }

    func send(_ message: RTMPMessage, chunkStreamID: UInt32, _ outbox: inout RTMPSessionOutbox) {
        outbox.send(message, chunkStreamID: chunkStreamID, encoder: encoder)
    }

    // MARK: Messages

    private mutating func handle(_ message: RTMPMessage, _ outbox: inout RTMPSessionOutbox) throws {
        switch message.type {
        case .setChunkSize, .abort, .acknowledgement, .setPeerBandwidth:
            break  // chunk size and abort were applied by the decoder; the others need nothing
        case .userControl:
            try userControl(message, &outbox)
        case .windowAcknowledgementSize:
            guard let size = message.payload.getInteger(at: message.payload.readerIndex, as: UInt32.self) else {
                throw RTMPError.malformedControlMessage(type: message.type.rawValue, length: message.payload.readableBytes)
            }
            acknowledgementWindow = size
        case .audio, .video, .amf0Data, .amf3Data:
            try media(message, &outbox)
        case .aggregate:
            guard isPublishing, message.messageStreamID == publish?.messageStreamID else { return }
            for part in try RTMPAggregate.split(message) where part.type != .aggregate {
                try media(part, &outbox)
            }
        case .amf0Command, .amf3Command:
            try command(RTMPCommand(decoding: message, maximumDepth: configuration.maximumAMFDepth), message, &outbox)
        default:
            break  // shared objects and unknown types: nothing a publisher needs
        }
    }

    private func userControl(_ message: RTMPMessage, _ outbox: inout RTMPSessionOutbox) throws {
        let payload = message.payload
        guard let event = payload.getInteger(at: payload.readerIndex, as: UInt16.self) else {
            throw RTMPError.malformedControlMessage(type: message.type.rawValue, length: payload.readableBytes)
        }
        guard event == RTMPUserControlEvent.pingRequest.rawValue else { return }  // SetBufferLength etc.: ignore
        guard let timestamp = payload.getInteger(at: payload.readerIndex + 2, as: UInt32.self) else {
            throw RTMPError.malformedControlMessage(type: message.type.rawValue, length: payload.readableBytes)
        }
        send(RTMPControlMessage.userControl(.pingResponse, timestamp), chunkStreamID: RTMPControlMessage.chunkStreamID, &outbox)
    }

    /// Audio, video and `onMetaData` of the accepted publishing stream (metadata also on stream 0).
    private mutating func media(_ message: RTMPMessage, _ outbox: inout RTMPSessionOutbox) throws {
        guard let publish, publish.accepted else { return }
        let isData = message.type == .amf0Data || message.type == .amf3Data
        guard message.messageStreamID == publish.messageStreamID || (isData && message.messageStreamID == 0) else { return }
        var values: ArraySlice<AMFValue> = []
        if isData {
            values = try message.amfValues(maximumDepth: configuration.maximumAMFDepth)[...]
            if values.first?.stringValue == "@setDataFrame" { values = values.dropFirst() }
            guard values.first?.stringValue == "onMetaData" else { return }
            values = values.dropFirst()
        }
        let timestamp = clocks[message.messageStreamID, default: RTMPTimestampUnwrapper()].unwrap(message.timestamp)
        switch message.type {
        case .audio: outbox.append(.audio(timestamp: timestamp, payload: message.payload))
        case .video: outbox.append(.video(timestamp: timestamp, payload: message.payload))
        default: outbox.append(.metadata(timestamp: timestamp, values: Array(values)))
        }
    }
}
