import NIOCore

/// An RTMP message type id (RTMP 1.0 §5.4 protocol control, §6.2 user control, §7.1 messages).
public struct RTMPMessageType: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    /// The type id byte of the chunk message header.
    public var rawValue: UInt8
    /// Wraps a type id.
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    /// 1: Set Chunk Size (u32, high bit zero).
    public static let setChunkSize = RTMPMessageType(rawValue: 1)
    /// 2: Abort Message (u32 chunk stream id).
    public static let abort = RTMPMessageType(rawValue: 2)
    /// 3: Acknowledgement (u32 sequence number = bytes received).
    public static let acknowledgement = RTMPMessageType(rawValue: 3)
    /// 4: User Control Message (u16 event type + event data).
    public static let userControl = RTMPMessageType(rawValue: 4)
    /// 5: Window Acknowledgement Size (u32).
    public static let windowAcknowledgementSize = RTMPMessageType(rawValue: 5)
    /// 6: Set Peer Bandwidth (u32 + u8 limit type).
    public static let setPeerBandwidth = RTMPMessageType(rawValue: 6)
    /// 8: Audio (an FLV audio tag body).
    public static let audio = RTMPMessageType(rawValue: 8)
    /// 9: Video (an FLV video tag body).
    public static let video = RTMPMessageType(rawValue: 9)
    /// 15: Data message, AMF3.
    public static let amf3Data = RTMPMessageType(rawValue: 15)
    /// 16: Shared object message, AMF3.
    public static let amf3SharedObject = RTMPMessageType(rawValue: 16)
    /// 17: Command message, AMF3.
    public static let amf3Command = RTMPMessageType(rawValue: 17)
    /// 18: Data message, AMF0.
    public static let amf0Data = RTMPMessageType(rawValue: 18)
    /// 19: Shared object message, AMF0.
    public static let amf0SharedObject = RTMPMessageType(rawValue: 19)
    /// 20: Command message, AMF0.
    public static let amf0Command = RTMPMessageType(rawValue: 20)
    /// 22: Aggregate message (FLV tags back to back).
    public static let aggregate = RTMPMessageType(rawValue: 22)

    /// The decimal type id.
    public var description: String { "\(rawValue)" }
}

/// One complete RTMP message, reassembled from chunks or to be split into chunks.
public struct RTMPMessage: Sendable, Equatable {
    /// The message type.
    public var type: RTMPMessageType
    /// The message stream id (0 for the NetConnection and protocol control).
    public var messageStreamID: UInt32
    /// The 32-bit message timestamp in milliseconds, as on the wire (it wraps after 49.7 days).
    public var timestamp: UInt32
    /// The message body.
    public var payload: ByteBuffer

    /// Creates a message.
    public init(type: RTMPMessageType, messageStreamID: UInt32 = 0, timestamp: UInt32 = 0, payload: ByteBuffer) {
        self.type = type
        self.messageStreamID = messageStreamID
        self.timestamp = timestamp
        self.payload = payload
    }
}
