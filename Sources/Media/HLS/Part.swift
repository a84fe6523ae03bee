import NIOCore

/// A partial segment (RFC 8216bis §3.3, §4.4.4.9): one CMAF chunk (`moof` + `mdat`) of the segment
/// being filled. The segment, once closed, is its parts' bytes joined.
public struct Part: Sendable, Equatable {
    public var bytes: ByteBuffer
    /// Where the part starts on the timing track (video, else audio), 90 kHz ticks.
    public var startDTS: Int64
    /// Ticks until the next part starts (estimated from the last step when the part closes before
    /// its successor's first sample is known).
    public var duration: Int64
    /// Whether its first video sample is a keyframe (every audio-only part is): EXT-X-PART INDEPENDENT=YES.
    public var independent: Bool
    /// Whether its segment starts with a discontinuity (EXT-X-DISCONTINUITY goes before the first part).
    public var discontinuity: Bool

    public init(bytes: ByteBuffer, startDTS: Int64, duration: Int64, independent: Bool, discontinuity: Bool = false) {
        self.bytes = bytes
        self.startDTS = startDTS
        self.duration = duration
        self.independent = independent
        self.discontinuity = discontinuity
    }
}

/// What a ``Segmenter`` call closed, oldest first: a segment's last part always comes just before it.
public enum SegmenterOutput: Sendable, Equatable {
    case part(Part)
    case segment(Segment)

    /// The segment, when this is one.
    public var segment: Segment? {
        if case .segment(let segment) = self { return segment }
        return nil
    }

    /// The part, when this is one.
    public var part: Part? {
        if case .part(let part) = self { return part }
        return nil
    }
}
