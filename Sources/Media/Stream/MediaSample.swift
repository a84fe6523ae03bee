import NIOCore

/// One access unit of one track: a video frame or an audio frame.
public struct MediaSample: Sendable {
    /// Which track the sample belongs to.
    public var kind: TrackKind
    /// Decode timestamp, 90 kHz ticks, unwrapped (see ``MediaTime``).
    public var dts: Int64
    /// Presentation timestamp, 90 kHz ticks, unwrapped. Equals `dts` for audio.
    public var pts: Int64
    /// True for a video random access point (IDR) and for every audio frame.
    public var isKeyframe: Bool
    /// H.264: AVCC length-prefixed NAL units (length size from the track's configuration record).
    /// AAC: one raw AAC frame without ADTS header.
    public var payload: ByteBuffer

    /// Creates a sample.
    public init(kind: TrackKind, dts: Int64, pts: Int64, isKeyframe: Bool, payload: ByteBuffer) {
        self.kind = kind
        self.dts = dts
        self.pts = pts
        self.isKeyframe = isKeyframe
        self.payload = payload
    }
}
