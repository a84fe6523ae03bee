import NIOCore

/// One finished HLS media segment (RFC 8216 §3): a self-contained MPEG-TS file.
public struct Segment: Sendable, Equatable {
    /// Complete MPEG-TS data, starting with PAT and PMT.
    public var bytes: ByteBuffer
    /// DTS of the first sample, 90 kHz ticks, unwrapped.
    public var startDTS: Int64
    /// Duration in ticks: the next segment's start minus this start when cut by the next segment;
    /// otherwise the last sample's DTS plus its estimated duration minus this start. Never negative.
    public var duration: Int64
    /// Whether the segment must be preceded by EXT-X-DISCONTINUITY (timestamps or codec
    /// configuration do not continue from the previous segment).
    public var discontinuity: Bool

    /// Creates a segment.
    public init(bytes: ByteBuffer, startDTS: Int64, duration: Int64, discontinuity: Bool) {
        self.bytes = bytes
        self.startDTS = startDTS
        self.duration = duration
        self.discontinuity = discontinuity
    }
}
