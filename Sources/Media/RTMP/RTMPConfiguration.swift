/// Limits and announced values of one RTMP server connection.
///
/// Every limit bounds what a hostile or broken peer can make a connection hold; exceeding one
/// throws an ``RTMPError`` and ends that connection only.
public struct RTMPConfiguration: Sendable {
    /// Largest message accepted (8 MiB: 4K keyframes exceed 1 MB, nginx-rtmp's limit dropped them).
    public var maximumMessageSize: Int
    /// Most distinct chunk stream ids with state at once (64: encoders use fewer than 10).
    public var maximumChunkStreams: Int
    /// Most bytes of unfinished messages held across all chunk streams at once (twice the largest
    /// message by default: an encoder interleaves small audio messages with one large video message,
    /// while without this cap 64 chunk streams could each hold a partial 8 MiB message).
    public var maximumPendingBytes: Int
    /// Largest chunk size a peer may announce with Set Chunk Size (16 MiB; the spec allows 2^31-1,
    /// but a chunk is buffered whole before it is parsed).
    public var maximumIncomingChunkSize: Int
    /// Deepest AMF nesting in commands and metadata (16: real metadata nests two levels).
    public var maximumAMFDepth: Int
    /// Chunk size the server announces with Set Chunk Size and uses for what it sends (4096).
    public var outgoingChunkSize: Int
    /// Window Acknowledgement Size sent to the client (2.5 MB, as FMS and nginx-rtmp).
    public var windowAcknowledgementSize: UInt32
    /// Set Peer Bandwidth value sent to the client, limit type dynamic (2.5 MB).
    public var peerBandwidth: UInt32

    /// Creates a configuration; every value has the default documented on its property.
    public init(
        maximumMessageSize: Int = 8 * 1024 * 1024,
        maximumChunkStreams: Int = 64,
        maximumPendingBytes: Int? = nil,
        maximumIncomingChunkSize: Int = 16 * 1024 * 1024,
        maximumAMFDepth: Int = 16,
        outgoingChunkSize: Int = 4096,
        windowAcknowledgementSize: UInt32 = 2_500_000,
        peerBandwidth: UInt32 = 2_500_000
    ) {
        self.maximumMessageSize = maximumMessageSize
        self.maximumChunkStreams = maximumChunkStreams
        self.maximumPendingBytes = maximumPendingBytes ?? 2 * maximumMessageSize
        self.maximumIncomingChunkSize = maximumIncomingChunkSize
        self.maximumAMFDepth = maximumAMFDepth
        // A chunk size must be 1...0x7FFFFFFF on the wire (RTMP 1.0 §5.4.1).
        self.outgoingChunkSize = min(max(outgoingChunkSize, 1), 0x7FFF_FFFF)
        self.windowAcknowledgementSize = windowAcknowledgementSize
        self.peerBandwidth = peerBandwidth
    }
}
