/// How a ``Segmenter`` cuts a live stream into segments.
public struct SegmenterConfiguration: Sendable, Equatable {
    /// Desired segment duration in 90 kHz ticks; a segment is cut at the first keyframe at or after
    /// it (config `hls.segment_duration`, default 2 s: a latency/overhead balance for live HLS).
    public var targetDuration: Int64
    /// Largest forward step of a track's DTS treated as continuous, in ticks (default 10 s: longer
    /// than any sane gap between frames, shorter than an encoder restart). Larger steps cut the
    /// segment and start the next one with a discontinuity.
    public var maximumTimestampJump: Int64
    /// Largest backward step of a track's DTS tolerated without a discontinuity, in ticks (default
    /// 1 ms: absorbs millisecond rounding of RTMP timestamps, nothing more).
    public var backwardTolerance: Int64
    /// MPEG-TS or CMAF.
    public var format: SegmentFormat
    /// With CMAF: the part length in ticks. A part closes when its next frame, a step like the last
    /// one, would end past it; nil cuts no parts (one fragment per segment). A frame that comes a
    /// little late (RTMP timestamps are whole milliseconds) can make a part longer by that much.
    public var partTarget: Int64?

    /// Creates a configuration.
    public init(
        targetDuration: Int64 = 2 * 90_000,
        maximumTimestampJump: Int64 = 10 * 90_000,
        backwardTolerance: Int64 = 90,
        format: SegmentFormat = .mpegts,
        partTarget: Int64? = nil
    ) {
        self.format = format
        self.partTarget = format == .cmaf ? partTarget.map { max($0, 900) } : nil
        self.targetDuration = targetDuration
        self.maximumTimestampJump = maximumTimestampJump
        self.backwardTolerance = backwardTolerance
    }
}
