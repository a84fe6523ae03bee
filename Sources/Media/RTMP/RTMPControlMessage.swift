import NIOCore

// RTMP 1.0 §5.4 Protocol Control Messages and §6.2 User Control Messages (message stream 0,
// chunk stream 2).
//
//   Set Chunk Size (1)      | chunk size (u32, bit 31 zero) |
//   Acknowledgement (3)     | sequence number (u32) |
//   Window Ack Size (5)     | window size (u32) |
//   Set Peer Bandwidth (6)  | window size (u32) | limit type (u8: 0 hard, 1 soft, 2 dynamic) |
//   User Control (4)        | event type (u16) | event data (u32 for the events used here) |

/// User control event types (RTMP 1.0 §7.1.7).
public enum RTMPUserControlEvent: UInt16, Sendable {
    /// The server starts a message stream (data: stream id).
    case streamBegin = 0
    /// Playback of a stream ended (data: stream id).
    case streamEOF = 1
    /// No more data on a stream for now (data: stream id).
    case streamDry = 2
    /// Client buffer length (data: stream id, milliseconds).
    case setBufferLength = 3
    /// The stream is recorded (data: stream id).
    case streamIsRecorded = 4
    /// Server ping (data: timestamp).
    case pingRequest = 6
    /// Answer to a ping (data: the request's timestamp).
    case pingResponse = 7
}

/// Builders of the protocol control and user control messages the server sends.
public enum RTMPControlMessage {
    /// The chunk stream protocol control messages travel on.
    public static let chunkStreamID: UInt32 = 2

    /// Set Chunk Size (type 1).
    public static func setChunkSize(_ size: Int) -> RTMPMessage {
        word(.setChunkSize, UInt32(truncatingIfNeeded: size) & 0x7FFF_FFFF)
    }

    /// Acknowledgement (type 3) of `sequenceNumber` bytes received so far (wrapping at 2^32).
    public static func acknowledgement(_ sequenceNumber: UInt32) -> RTMPMessage {
        word(.acknowledgement, sequenceNumber)
    }

    /// Window Acknowledgement Size (type 5).
    public static func windowAcknowledgementSize(_ size: UInt32) -> RTMPMessage {
        word(.windowAcknowledgementSize, size)
    }

    /// Set Peer Bandwidth (type 6); limit type 2 = dynamic.
    public static func setPeerBandwidth(_ size: UInt32, limitType: UInt8 = 2) -> RTMPMessage {
        var payload = ByteBuffer()
        payload.writeInteger(size)
        payload.writeInteger(limitType)
        return RTMPMessage(type: .setPeerBandwidth, payload: payload)
    }

    /// User Control (type 4) with a 4-byte event datum (stream id or timestamp).
    public static func userControl(_ event: RTMPUserControlEvent, _ value: UInt32) -> RTMPMessage {
        var payload = ByteBuffer()
        payload.writeInteger(event.rawValue)
        payload.writeInteger(value)
        return RTMPMessage(type: .userControl, payload: payload)
    }

    private static func word(_ type: RTMPMessageType, _ value: UInt32) -> RTMPMessage {
        var payload = ByteBuffer()
        payload.writeInteger(value)
        return RTMPMessage(type: type, payload: payload)
    }
}
