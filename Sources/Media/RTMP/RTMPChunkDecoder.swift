import NIOCore

// RTMP 1.0 §5.3.1 Chunk Format, §5.3.2 Examples, §5.4.1–2 Set Chunk Size / Abort.
//
//   +--------------+----------------+--------------------+------------+
//   | basic header | message header | extended timestamp | chunk data |
//   +--------------+----------------+--------------------+------------+
//   basic:   fmt(2) csid(6)            csid 2–63
//            fmt(2) 0 | csid-64(8)     csid 64–319
//            fmt(2) 1 | csid-64 (16, little-endian)   csid 64–65599
//   fmt 0 (11): timestamp(3) length(3) type(1) message stream id(4, little-endian)
//   fmt 1 (7):  delta(3) length(3) type(1)       fmt 2 (3): delta(3)       fmt 3: none
//   extended timestamp (4): present when the 24-bit field is 0xFFFFFF, and on fmt 3 chunks of a
//   chunk stream whose last fmt 0/1/2 header had one.

/// Reassembles RTMP messages from chunks; a pure struct you can drive one byte at a time.
///
/// ``decode(_:)`` consumes only whole chunks and leaves a partial chunk unread in the caller's
/// buffer (NIO's ByteToMessageDecoder contract). It applies Set Chunk Size and Abort itself,
/// since they change how the following bytes are framed, and still returns those messages.
public struct RTMPChunkDecoder: Sendable {
    /// The current incoming chunk size (128 until the peer sends Set Chunk Size).
    public private(set) var chunkSize = 128
    /// Largest message length accepted.
    public let maximumMessageSize: Int
    /// Most distinct chunk stream ids with state.
    public let maximumChunkStreams: Int
    /// Largest chunk size the peer may announce.
    public let maximumChunkSize: Int
    /// Most bytes of unfinished messages held at once, across chunk streams.
    public let maximumPendingBytes: Int
    /// Bytes of unfinished messages held now.
    public private(set) var pendingBytes = 0
    private var streams: [UInt32: ChunkStream] = [:]

    /// What a chunk stream remembers from its last headers (fields of fmt 1/2/3 chunks reuse it).
    private struct ChunkStream: Sendable {
        var timestampField: UInt32 = 0  // absolute after fmt 0, delta after fmt 1/2
        var hasExtendedTimestamp = false
        var timestamp: UInt32 = 0  // of the current (or last) message
        var length = 0
        var type: UInt8 = 0
        var messageStreamID: UInt32 = 0
        var partial: ByteBuffer?  // payload so far while a message is in progress
    }

    /// Creates a decoder with the limits of `configuration`.
    public init(configuration: RTMPConfiguration = .init()) {
        maximumMessageSize = configuration.maximumMessageSize
        maximumChunkStreams = configuration.maximumChunkStreams
        maximumChunkSize = configuration.maximumIncomingChunkSize
        maximumPendingBytes = configuration.maximumPendingBytes
    }

    /// Chunk stream ids that have state.
    public var chunkStreamCount: Int { streams.count }

    /// Consumes whole chunks from `buffer` until one completes a message, which it returns.
    /// Returns nil when only part of a chunk is left (those bytes stay unread: call again with more).
    public mutating func decode(_ buffer: inout ByteBuffer) throws -> RTMPMessage? {
        while true {
            var view = buffer
            guard let chunk = try readChunk(&view) else { return nil }
            buffer.moveReaderIndex(to: view.readerIndex)
            if let message = chunk {
                try applyControl(message)
                return message
            }
        }
    }

    /// Reads one chunk from `view`. Outer nil: need more bytes (nothing committed).
    /// Inner nil: a chunk was consumed without completing a message.
    private mutating func readChunk(_ view: inout ByteBuffer) throws -> RTMPMessage?? {
        guard let first = view.readInteger(as: UInt8.self) else { return nil }
        let format = first >> 6
        var chunkStreamID = UInt32(first & 0x3F)
        if chunkStreamID == 0 {
            guard let byte = view.readInteger(as: UInt8.self) else { return nil }
            chunkStreamID = 64 + UInt32(byte)
        } else if chunkStreamID == 1 {
            guard let value = view.readInteger(endianness: .little, as: UInt16.self) else { return nil }
            chunkStreamID = 64 + UInt32(value)
        }

        var stream: ChunkStream
        if let existing = streams[chunkStreamID] {
            stream = existing
        } else {
            guard format == 0 else { throw RTMPError.missingChunkHeader(chunkStreamID: chunkStreamID, format: format) }
            guard streams.count < maximumChunkStreams else { throw RTMPError.tooManyChunkStreams(limit: maximumChunkStreams) }
            stream = ChunkStream()
        }

        var startsMessage = true
        var abandoned = 0
        switch format {
        case 0, 1, 2:
            let headerLength = [11, 7, 3][Int(format)]
            guard view.readableBytes >= headerLength, let field = view.readUInt24() else { return nil }
            if format < 2 {
                guard let length = view.readUInt24(), let type = view.readInteger(as: UInt8.self) else { return nil }
                guard Int(length) <= maximumMessageSize else {
                    throw RTMPError.messageTooLarge(length: Int(length), limit: maximumMessageSize)
                }
                stream.length = Int(length)
                stream.type = type
            }
            if format == 0 {
                guard let id = view.readInteger(endianness: .little, as: UInt32.self) else { return nil }
                stream.messageStreamID = id
            }
            stream.hasExtendedTimestamp = field == 0xFF_FFFF
            if stream.hasExtendedTimestamp {
                guard let extended = view.readInteger(as: UInt32.self) else { return nil }
                stream.timestampField = extended
            } else {
                stream.timestampField = field
            }
            // A new header in the middle of a message: the rest of the old one never comes. Lenient
            // like librtmp/ffmpeg: drop it and start the new message (its bytes are given back below,
            // once this chunk is read whole and the change is kept).
            abandoned = stream.partial?.readableBytes ?? 0
            stream.partial = nil
        default:
            startsMessage = stream.partial == nil
            if stream.hasExtendedTimestamp {
                guard let extended = view.getInteger(at: view.readerIndex, as: UInt32.self) else { return nil }
                // Interop: continuation chunks must repeat the extended timestamp (§5.3.1.3, FMS and
                // librtmp do), but some encoders omit it. As SRS does, accept it on a continuation
                // only when it equals the header's value; otherwise those 4 bytes are chunk data.
                if startsMessage || extended == stream.timestampField {
                    view.moveReaderIndex(forwardBy: 4)
                    stream.timestampField = extended
                }
            }
        }

        if startsMessage {
            stream.timestamp = format == 0 ? stream.timestampField : stream.timestamp &+ stream.timestampField
        }
        let received = stream.partial?.readableBytes ?? 0
        let take = min(chunkSize, stream.length - received)
        guard let data = view.readSlice(length: take) else { return nil }
        pendingBytes -= abandoned

        var message: RTMPMessage?
        if received == 0 && take == stream.length {
            message = RTMPMessage(type: RTMPMessageType(rawValue: stream.type), messageStreamID: stream.messageStreamID,
                                  timestamp: stream.timestamp, payload: data)
            stream.partial = nil
        } else {
            guard pendingBytes + take <= maximumPendingBytes else { throw RTMPError.tooMuchPendingData(limit: maximumPendingBytes) }
            pendingBytes += take
            var partial = stream.partial ?? ByteBuffer()
            // Keep the buffer uniquely referenced while appending (the dictionary holds the old
            // copy of `stream`): otherwise every chunk would copy the whole message so far.
            stream.partial = nil
            streams[chunkStreamID]?.partial = nil
            var data = data
            partial.writeBuffer(&data)
            if partial.readableBytes == stream.length {
                pendingBytes -= partial.readableBytes
                message = RTMPMessage(type: RTMPMessageType(rawValue: stream.type), messageStreamID: stream.messageStreamID,
                                      timestamp: stream.timestamp, payload: partial)
            } else {
                stream.partial = partial
            }
        }
        streams[chunkStreamID] = stream
        return .some(message)
    }

    /// Set Chunk Size and Abort change framing, so the decoder applies them (§5.4.1, §5.4.2).
    private mutating func applyControl(_ message: RTMPMessage) throws {
        switch message.type {
        case .setChunkSize:
            guard let value = message.payload.getInteger(at: message.payload.readerIndex, as: UInt32.self) else {
                throw RTMPError.malformedControlMessage(type: message.type.rawValue, length: message.payload.readableBytes)
            }
            guard value & 0x8000_0000 == 0, value > 0, Int(value) <= maximumChunkSize else {
                throw RTMPError.invalidChunkSize(Int(value), limit: maximumChunkSize)
            }
            chunkSize = Int(value)
        case .abort:
            guard let id = message.payload.getInteger(at: message.payload.readerIndex, as: UInt32.self) else {
                throw RTMPError.malformedControlMessage(type: message.type.rawValue, length: message.payload.readableBytes)
            }
            pendingBytes -= streams[id]?.partial?.readableBytes ?? 0
            streams[id]?.partial = nil
        default:
            break
        }
    }
}
