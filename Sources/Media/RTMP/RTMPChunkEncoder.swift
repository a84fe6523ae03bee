import NIOCore

// RTMP 1.0 §5.3.1 Chunk Format, sending side.
//
//   first chunk:   fmt 0 basic header | timestamp(3) length(3) type(1) stream id(4 LE) | [ext ts(4)] | data
//   continuation:  fmt 3 basic header | [ext ts(4), repeated as FMS and librtmp do] | data
//   (chunk data ≤ chunkSize bytes each)

/// Splits outgoing messages into chunks: fmt 0 for the first chunk, fmt 3 for continuations.
///
/// Always using fmt 0 costs a few bytes per message but is what every decoder handles; the server
/// sends little besides command replies.
public struct RTMPChunkEncoder: Sendable {
    /// The outgoing chunk size (128 until the server announces another with Set Chunk Size).
    public var chunkSize: Int

    /// Creates an encoder; `chunkSize` is clamped to at least 1.
    public init(chunkSize: Int = 128) {
        self.chunkSize = max(chunkSize, 1)
    }

    /// Appends the chunks of `message` on `chunkStreamID` (2...65599) to `buffer`.
    public func encode(_ message: RTMPMessage, chunkStreamID: UInt32, into buffer: inout ByteBuffer) {
        let extended = message.timestamp >= 0xFF_FFFF
        var payload = message.payload
        Self.writeBasicHeader(format: 0, chunkStreamID: chunkStreamID, into: &buffer)
        buffer.writeUInt24(extended ? 0xFF_FFFF : message.timestamp)
        buffer.writeUInt24(UInt32(truncatingIfNeeded: payload.readableBytes))
        buffer.writeInteger(message.type.rawValue)
        buffer.writeInteger(message.messageStreamID, endianness: .little)
        var first = true
        repeat {
            if !first {
                Self.writeBasicHeader(format: 3, chunkStreamID: chunkStreamID, into: &buffer)
            }
            if extended { buffer.writeInteger(message.timestamp) }
            var slice = payload.readSlice(length: min(chunkSize, payload.readableBytes)) ?? ByteBuffer()
            buffer.writeBuffer(&slice)
            first = false
        } while payload.readableBytes > 0
    }

    /// Encodes `message` into a new buffer.
    public func encode(_ message: RTMPMessage, chunkStreamID: UInt32) -> ByteBuffer {
        var buffer = ByteBuffer()
        encode(message, chunkStreamID: chunkStreamID, into: &buffer)
        return buffer
    }

    /// Writes the 1-, 2- or 3-byte basic header for `chunkStreamID` (2...65599).
    public static func writeBasicHeader(format: UInt8, chunkStreamID: UInt32, into buffer: inout ByteBuffer) {
        precondition((2...65599).contains(chunkStreamID), "chunk stream ids are 2...65599")
        let high = format << 6
        switch chunkStreamID {
        case 2...63:
            buffer.writeInteger(high | UInt8(chunkStreamID))
        case 64...319:
            buffer.writeInteger(high)
            buffer.writeInteger(UInt8(chunkStreamID - 64))
        default:
            buffer.writeInteger(high | 1)
            buffer.writeInteger(UInt16(chunkStreamID - 64), endianness: .little)
        }
    }
}
