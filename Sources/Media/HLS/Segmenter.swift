import NIOCore

/// Cuts a live stream of samples into HLS segments (RFC 8216bis §3, §6.2.1), and with CMAF parts
/// into partial segments (§3.3), driving a ``SegmentMuxer`` (MPEG-TS or fMP4).
///
/// ```
/// video+audio:  [drop until first IDR] |IDR ... ≥ target ... |IDR ... |IDR ...      cuts only at IDRs
/// audio-only:   |AAC AAC ... ≥ target |AAC ...                                      cuts by time
/// parts:        |p0 (IDR: independent)|p1|p2|...|pn| |p0 ...    a part closes when its next frame
///               would pass the part target; a segment's cut closes its last (shorter) part
/// DTS jump > maximumTimestampJump or backward step, codec change, markDiscontinuity():
///               close the open segment; the next one starts (at an IDR) with discontinuity = true
/// ```
///
/// Samples for a track that was not announced with ``setTracks(video:audio:)`` are dropped, as is
/// everything before the first call. The segmenter is a value: time only arrives in samples.
public struct Segmenter: Sendable {
    /// The cutting rules.
    public let configuration: SegmenterConfiguration

    private var videoTrack: MediaTrack?
    private var audioTrack: MediaTrack?
    private var muxer: FormatMuxer?
    private var open: OpenSegment?
    private var pendingDiscontinuity = false
    /// DTS of the last sample written, per track, for jump detection and duration estimates.
    private var lastDTS: [TrackKind: Int64] = [:]
    /// Last positive DTS step per track, and the one before: the estimated duration of the last
    /// sample is the smaller (one late frame after a dropped one is a gap, not a new frame rate).
    private var lastStep: [TrackKind: Int64] = [:]
    private var previousStep: [TrackKind: Int64] = [:]
    /// Frame duration from the SPS VUI, used when no step has been seen yet.
    private var videoFrameDuration: Int64?

    /// A segment being filled.
    private struct OpenSegment {
        /// Bytes of the fragment being filled (MPEG-TS: the whole segment).
        var current: ByteBuffer
        /// Closed parts.
        var parts: [ByteBuffer] = []
        var startDTS: Int64
        var lastTimingDTS: Int64
        var discontinuity: Bool
        /// Where the open part starts on the timing track, and whether its first video sample is an IDR.
        var partStart: Int64
        var partIndependent: Bool?
        var partHasSamples = false
        var partHasTimingSamples = false
    }

    /// Creates a segmenter; nothing is cut before ``setTracks(video:audio:)``.
    public init(configuration: SegmenterConfiguration) {
        self.configuration = configuration
    }

    /// The EXT-X-MAP resource of the current tracks (CMAF); nil for MPEG-TS or before any tracks.
    public var initialization: ByteBuffer? { muxer?.initialization }

    /// The track whose timestamps measure segments: video when present, else audio.
    private var timingKind: TrackKind { videoTrack != nil ? .video : .audio }

    /// Announces the tracks (the publisher's sequence headers). The first call starts segmenting; a
    /// later call with different tracks closes the open segment (returned) and the next segment
    /// starts with a discontinuity (and new tables or a new init section). The same tracks again change nothing.
    public mutating func setTracks(video: MediaTrack?, audio: MediaTrack?) -> [SegmenterOutput] {
        let video = video?.kind == .video ? video : nil, audio = audio?.kind == .audio ? audio : nil
        if muxer != nil, video == videoTrack, audio == audioTrack { return [] }
        let closed = closeOpenSegment(endingAt: nil)
        if muxer != nil { pendingDiscontinuity = true }
        muxer = configuration.format.makeMuxer(video: video, audio: audio, continuing: muxer)
        videoTrack = video
        audioTrack = audio
        var frameDuration: Int64?
        if case .h264(let record) = video {
            frameDuration = record.sequenceParameterSets.first
                .flatMap { try? SequenceParameterSet(parsing: $0) }?.frameDuration
        }
        videoFrameDuration = frameDuration
        lastDTS = [:]
        lastStep = [:]
        previousStep = [:]
        return closed
    }

    /// Marks that the next segment starts with a discontinuity (a reconnect). When a segment is
    /// open, the next ``append(_:)`` closes it first, and with video the new segment waits for an IDR.
    public mutating func markDiscontinuity() {
        pendingDiscontinuity = true
    }

    /// Adds one sample; returns what it closed (oldest first, usually nothing, a part, or a part and
    /// its segment).
    ///
    /// Throws what the muxer's `write` throws for a malformed sample; the segmenter's state is then
    /// unchanged and the sample is not written.
    public mutating func append(_ sample: MediaSample) throws -> [SegmenterOutput] {
        guard muxer != nil, hasTrack(sample.kind) else { return [] }
        let restart = (pendingDiscontinuity && open != nil) || isTimestampJump(sample)
        let continues = open != nil && !restart
        let startsSegment = continues ? isCutPoint(sample) : canStartSegment(with: sample)
        if continues && !startsSegment {
            // The common case: mux straight into the open fragment; a throw rolls the bytes back.
            // A frame that comes late (a dropped frame before it) closes the part before it first.
            let closed = closePartIfLate(sample)
            try write(sample)
            return closed + closePartIfFull(after: sample)
        }
        if continues || restart {
            // Something closes before the sample is written: check it first, so a bad sample changes nothing.
            var probe = muxer!
            var scratch = ByteBuffer()
            try probe.write(sample, into: &scratch)
        }
        var closed: [SegmenterOutput] = []
        if restart {
            closed += closeOpenSegment(endingAt: nil)
            pendingDiscontinuity = true
            lastDTS = [:]
        }
        guard startsSegment || continues else { return closed }
        // Audio that came after the last part closed but before this keyframe stays held and opens
        // the next segment's first part, rather than making a part of no duration.
        let carried = continues && configuration.partTarget != nil && open!.partHasSamples && !open!.partHasTimingSamples
        if continues { closed += closeOpenSegment(endingAt: sample.dts, closingPart: !carried) }
        var bytes = ByteBuffer()
        muxer!.beginSegment(into: &bytes)
        open = OpenSegment(current: bytes, startDTS: sample.dts, lastTimingDTS: sample.dts,
                           discontinuity: pendingDiscontinuity, partStart: sample.dts, partHasSamples: carried)
        pendingDiscontinuity = false
        try write(sample)
        return closed + closePartIfFull(after: sample)
    }

    /// Closes everything open (end of stream): the last part and segment; empty when none is open.
    public mutating func finish() -> [SegmenterOutput] {
        defer { lastDTS = [:] }
        return closeOpenSegment(endingAt: nil)
    }

    // MARK: Writing

    /// Muxes into the open fragment and notes the sample's timing; a throw leaves both as they were.
    private mutating func write(_ sample: MediaSample) throws {
        let mark = open!.current.writerIndex
        do {
            try muxer!.write(sample, into: &open!.current)
        } catch {
            open!.current.moveWriterIndex(to: mark)
            throw error
        }
        open!.partHasSamples = true
        if sample.kind == timingKind { open!.partHasTimingSamples = true }
        if sample.kind == .video, open!.partIndependent == nil { open!.partIndependent = sample.isKeyframe }
        if sample.kind == timingKind { open!.lastTimingDTS = sample.dts }
        if let last = lastDTS[sample.kind], sample.dts > last {
            previousStep[sample.kind] = lastStep[sample.kind]
            lastStep[sample.kind] = sample.dts - last
        }
        lastDTS[sample.kind] = sample.dts
    }

    /// With parts: after a timing sample, closes the part when one more frame would pass the target
    /// (by more than the millisecond RTMP timestamps are rounded to).
    private mutating func closePartIfFull(after sample: MediaSample) -> [SegmenterOutput] {
        guard let target = configuration.partTarget, sample.kind == timingKind, let open else { return [] }
        let step = estimatedStep
        guard sample.dts + 2 * step - open.partStart > target + configuration.backwardTolerance else { return [] }
        return closePart(endingAt: sample.dts + step).map { [.part($0)] } ?? []
    }

    /// With parts: before a timing sample that would end past the target, closes the part at the
    /// sample's DTS (the previous frame's step was shorter than the gap to this one).
    private mutating func closePartIfLate(_ sample: MediaSample) -> [SegmenterOutput] {
        guard let target = configuration.partTarget, sample.kind == timingKind, let open, open.partHasTimingSamples,
              sample.dts + estimatedStep - open.partStart > target + configuration.backwardTolerance else { return [] }
        return closePart(endingAt: sample.dts).map { [.part($0)] } ?? []
    }

    /// Ends the open fragment at `end`; with parts, returns it as a part and starts the next one there.
    private mutating func closePart(endingAt end: Int64) -> Part? {
        guard open != nil, open!.partHasSamples else { return nil }
        muxer!.endFragment(endingAt: end, into: &open!.current)
        guard configuration.partTarget != nil else { return nil }
        let bytes = open!.current
        open!.parts.append(bytes)
        let part = Part(bytes: bytes, startDTS: open!.partStart, duration: max(0, end - open!.partStart),
                        independent: open!.partIndependent ?? true, discontinuity: open!.discontinuity)
        open!.current = ByteBuffer()
        open!.partStart = end
        open!.partIndependent = nil
        open!.partHasSamples = false
        open!.partHasTimingSamples = false
        return part
    }

    private func hasTrack(_ kind: TrackKind) -> Bool {
        kind == .video ? videoTrack != nil : audioTrack != nil
    }

    /// A forward DTS step beyond the configured jump or a backward step beyond the tolerance.
    private func isTimestampJump(_ sample: MediaSample) -> Bool {
        guard let last = lastDTS[sample.kind] else { return false }
        let step = sample.dts - last
        return step > configuration.maximumTimestampJump || step < -configuration.backwardTolerance
    }

    /// With video: an IDR once the open segment has reached the target. Audio-only: any sample then.
    private func isCutPoint(_ sample: MediaSample) -> Bool {
        guard let open, canStartSegment(with: sample) else { return false }
        return sample.dts - open.startDTS >= configuration.targetDuration
    }

    /// With video, segments start at IDRs (so A/V start aligned); audio-only at any frame.
    private func canStartSegment(with sample: MediaSample) -> Bool {
        videoTrack == nil || (sample.kind == .video && sample.isKeyframe)
    }

    /// Closes the open segment and (unless told not to) its last part, ending at `end` or, when nil,
    /// at the last timing sample plus its estimated duration.
    private mutating func closeOpenSegment(endingAt end: Int64?, closingPart: Bool = true) -> [SegmenterOutput] {
        guard let segment = open else { return [] }
        let end = end ?? segment.lastTimingDTS + estimatedStep
        var closed: [SegmenterOutput] = []
        if closingPart, configuration.partTarget != nil, segment.partHasSamples, !segment.partHasTimingSamples {
            // Audio that arrived after the last frame's part closed lies within that part's time:
            // a part of its own would last nothing. Those frames (at most a few, at the stream's end
            // or a discontinuity) are dropped.
            var discarded = ByteBuffer()
            muxer!.endFragment(endingAt: end, into: &discarded)
        } else if closingPart, let part = closePart(endingAt: end) {
            closed.append(.part(part))
        }
        let finished = open!
        open = nil
        var bytes = finished.current
        if !finished.parts.isEmpty {
            bytes = ByteBuffer()
            bytes.reserveCapacity(finished.parts.reduce(0) { $0 + $1.readableBytes })
            for part in finished.parts { bytes.writeImmutableBuffer(part) }
        }
        closed.append(.segment(Segment(bytes: bytes, startDTS: finished.startDTS, duration: max(0, end - finished.startDTS),
                                       discontinuity: finished.discontinuity)))
        return closed
    }

    /// The timing track's last step (or the one before, when smaller), or before any, the SPS frame
    /// rate or one AAC frame.
    private var estimatedStep: Int64 {
        if let step = lastStep[timingKind] { return min(step, previousStep[timingKind] ?? step) }
        if videoTrack != nil { return videoFrameDuration ?? 0 }
        if case .aac(let config) = audioTrack { return config.frameDurationTicks }
        return 0
    }
}
