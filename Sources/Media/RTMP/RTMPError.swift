/// Why an RTMP connection was refused or ended. Each case carries the offending value and the limit.
public enum RTMPError: Error, Equatable, Sendable {
    /// C0 announced a protocol version other than 3.
    case unsupportedHandshakeVersion(UInt8)
    /// A message header announced a length above ``RTMPConfiguration/maximumMessageSize``.
    case messageTooLarge(length: Int, limit: Int)
    /// Unfinished messages across chunk streams would hold more than ``RTMPConfiguration/maximumPendingBytes``.
    case tooMuchPendingData(limit: Int)
    /// The peer used more distinct chunk stream ids than ``RTMPConfiguration/maximumChunkStreams``.
    case tooManyChunkStreams(limit: Int)
    /// Set Chunk Size announced 0, a value with the high bit set, or more than the limit.
    case invalidChunkSize(Int, limit: Int)
    /// A type 1, 2 or 3 chunk header on a chunk stream that never had a type 0 header.
    case missingChunkHeader(chunkStreamID: UInt32, format: UInt8)
    /// A protocol control message shorter than its fixed layout.
    case malformedControlMessage(type: UInt8, length: Int)
    /// AMF nesting deeper than ``RTMPConfiguration/maximumAMFDepth``.
    case amfDepthExceeded(limit: Int)
    /// A command or data message whose AMF does not decode (truncated, unknown marker, …).
    case malformedAMF(messageType: UInt8, AMFError)
    /// A command without a name or transaction id.
    case malformedCommand(name: String?, reason: String)
    /// An aggregate message whose sub-messages do not add up to its length.
    case malformedAggregate(offset: Int, length: Int)
}
