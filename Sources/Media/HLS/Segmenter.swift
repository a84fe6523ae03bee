import NIOCore

/// Cuts a live stream of samples into MPEG-TS segments for HLS (RFC 8216 §3, §6.2.1).
///
/// ```
/// video+audio:  [drop until first IDR] |IDR ... ≥ target ... |IDR ... |IDR ...      cuts only at IDRs
/// audio-only:   |AAC AAC ... ≥ target |AAC ...                                      cuts by time
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
    private var muxer: TransportStreamMuxer?
    private var open: OpenSegment?
    private var pendingDiscontinuity = false
    /// DTS of the last sample written, per track, for jump detection and duration estimates.
    private var lastDTS: [TrackKind: Int64] = [:]
    /// Last positive DTS step per track: the estimated duration of the last sample.
    private var lastStep: [TrackKind: Int64] = [:]
    /// Frame duration from the SPS VUI, used when no step has been seen yet.
    private var videoFrameDuration: Int64?

    /// A segment being filled.
    private struct OpenSegment {
        var bytes: ByteBuffer
        var startDTS: Int64
        var lastTimingDTS: Int64
        var discontinuity: Bool
    }

    /// Creates a segmenter; nothing is cut before ``setTracks(video:audio:)``.
    public init(configuration: SegmenterConfiguration) {
        self.configuration = configuration
    }

    /// The track whose timestamps measure segments: video when present, else audio.
    private var timingKind: TrackKind { videoTrack != nil ? .video : .audio }

    /// Announces the tracks (the publisher's sequence headers). The first call starts segmenting; a
    /// later call with different tracks closes the open segment (returned) and the next segment
    /// starts with a discontinuity and PAT/PMT for the new tracks. The same tracks again change nothing.
    public mutating func setTracks(video: MediaTrack?, audio: MediaTrack?) -> [Segment] {
        if muxer != nil, video == videoTrack, audio == audioTrack { return [] }
        var closed: [Segment] = []
        if let segment = closeOpenSegment(endingAt: nil) { closed.append(segment) }
        if muxer != nil { pendingDiscontinuity = true }
        var record: AVCDecoderConfigurationRecord?
        var config: AudioSpecificConfig?
        for track in [video, audio].compactMap({ $0 }) {
            switch track {
            case .h264(let value): record = value
            case .aac(let value): config = value
            }
        }
        var next = TransportStreamMuxer(video: record, audio: config)
        next.continuityCounters = muxer?.continuityCounters ?? [:]
        muxer = next
        videoTrack = record.map(MediaTrack.h264)
        audioTrack = config.map(MediaTrack.aac)
        videoFrameDuration = record?.sequenceParameterSets.first
            .flatMap { try? SequenceParameterSet(parsing: $0) }?.frameRate
            .flatMap { $0 > 0 && $0 < 1000 ? Int64((90_000 / $0).rounded()) : nil }
        lastDTS = [:]
        lastStep = [:]
        return closed
    }

    /// Marks that the next segment starts with a discontinuity (a reconnect). When a segment is
    /// open, the next ``append(_:)`` closes it first, and with video the new segment waits for an IDR.
    public mutating func markDiscontinuity() {
        pendingDiscontinuity = true
    }

    /// Adds one sample; returns the segments it closed (oldest first, usually none or one).
    ///
    /// Throws what ``TransportStreamMuxer/write(_:into:)`` throws for a malformed sample; the
    /// segmenter's state is then unchanged and the sample is not written.
    public mutating func append(_ sample: MediaSample) throws -> [Segment] {
        guard var muxer, hasTrack(sample.kind) else { return [] }
        let restart = (pendingDiscontinuity && open != nil) || isTimestampJump(sample)
        let continues = open != nil && !restart
        let startsSegment = continues ? isCutPoint(sample) : canStartSegment(with: sample)
        let dropped = !continues && !startsSegment
        if continues && !startsSegment {
            // The common case: mux straight into the open segment; a throw rolls the bytes back.
            let mark = open!.bytes.writerIndex
            do {
                try muxer.write(sample, into: &open!.bytes)
            } catch {
                open!.bytes.moveWriterIndex(to: mark)
                throw error
            }
            record(sample)
            self.muxer = muxer
            return []
        }
        var packets = ByteBuffer()
        if !dropped { try muxer.write(sample, into: &packets) }  // may throw: no state changed yet

        var closed: [Segment] = []
        if restart {
            if let segment = closeOpenSegment(endingAt: nil) { closed.append(segment) }
            pendingDiscontinuity = true
            lastDTS = [:]
        }
        if dropped { return closed }
        if startsSegment {
            if continues, let segment = closeOpenSegment(endingAt: sample.dts) { closed.append(segment) }
            var bytes = ByteBuffer()
            muxer.writeTables(into: &bytes)
            open = OpenSegment(bytes: bytes, startDTS: sample.dts, lastTimingDTS: sample.dts,
                               discontinuity: pendingDiscontinuity)
            pendingDiscontinuity = false
        }
        open!.bytes.writeImmutableBuffer(packets)
        record(sample)
        self.muxer = muxer
        return closed
    }

    /// Notes a written sample's timing: the open segment's last timing DTS and the per-track steps.
    private mutating func record(_ sample: MediaSample) {
        if sample.kind == timingKind { open!.lastTimingDTS = sample.dts }
        if let last = lastDTS[sample.kind], sample.dts > last { lastStep[sample.kind] = sample.dts - last }
        lastDTS[sample.kind] = sample.dts
    }

    /// Closes and returns the open segment (end of stream); nil when none is open.
    public mutating func finish() -> Segment? {
        defer { lastDTS = [:] }
        return closeOpenSegment(endingAt: nil)
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

    /// Closes the open segment, ending at `end` or, when nil, at the last timing sample plus its
    /// estimated duration.
    private mutating func closeOpenSegment(endingAt end: Int64?) -> Segment? {
        guard let segment = open else { return nil }
        open = nil
        let estimatedEnd = segment.lastTimingDTS + (lastStep[timingKind] ?? fallbackSampleDuration)
        return Segment(bytes: segment.bytes, startDTS: segment.startDTS,
                       duration: max(0, (end ?? estimatedEnd) - segment.startDTS),
                       discontinuity: segment.discontinuity)
    }

    /// A sample's duration before any step was seen: the SPS frame rate or one AAC frame.
    private var fallbackSampleDuration: Int64 {
        if videoTrack != nil { return videoFrameDuration ?? 0 }
        if case .aac(let config) = audioTrack { return config.frameDurationTicks }
        return 0
    }
}
