import NIOCore

/// What the ``Segmenter`` drives to turn samples into segment bytes: MPEG-TS (self-contained
/// segments, RFC 8216bis §3.2) or fragmented MP4 / CMAF (an init section plus fragments, §3.1.2).
///
/// ```
/// Segmenter:  beginSegment | write write ... endFragment | write ... endFragment |  (next segment)
/// MPEG-TS:    PAT PMT      | PES   PES        (nothing)   | PES ...
/// fMP4:       (nothing)    | (held) (held)    moof mdat   | ...          one fragment = one part
/// ```
/// A muxer is made per track set; a new one continues its predecessor's counters.
public protocol SegmentMuxer: Sendable {
    /// The EXT-X-MAP resource for these tracks; nil when every segment is self-contained.
    var initialization: ByteBuffer? { get }
    /// Writes what every segment starts with.
    mutating func beginSegment(into buffer: inout ByteBuffer)
    /// Adds a sample (written at once, or held for the fragment). Throws for a malformed sample,
    /// writing and holding nothing.
    mutating func write(_ sample: MediaSample, into buffer: inout ByteBuffer) throws
    /// Writes what is held, as one fragment whose timing track lasts until DTS `end`.
    mutating func endFragment(endingAt end: Int64, into buffer: inout ByteBuffer)
}

/// The container of a stream's segments.
public enum SegmentFormat: String, Sendable, Hashable {
    /// MPEG-TS segments (`.ts`), as every HLS client plays.
    case mpegts
    /// CMAF: fragmented MP4 segments (`.m4s`) after an init section (`.mp4`); the only format with parts.
    case cmaf

    /// A muxer for these tracks that continues `previous` (MPEG-TS continuity counters, fMP4
    /// fragment sequence numbers).
    func makeMuxer(video: MediaTrack?, audio: MediaTrack?, continuing previous: FormatMuxer?) -> FormatMuxer {
        switch self {
        case .mpegts:
            var record: AVCDecoderConfigurationRecord?
            var config: AudioSpecificConfig?
            if case .h264(let value) = video { record = value }
            if case .aac(let value) = audio { config = value }
            var muxer = TransportStreamMuxer(video: record, audio: config)
            if case .mpegts(let last) = previous { muxer.continuityCounters = last.continuityCounters }
            return .mpegts(muxer)
        case .cmaf:
            var sequenceNumber: UInt32 = 1
            if case .cmaf(let last) = previous { sequenceNumber = last.sequenceNumber }
            return .cmaf(FragmentedMP4Muxer(video: video, audio: audio, sequenceNumber: sequenceNumber))
        }
    }

    /// The file name extension of its media segments and parts.
    public var segmentExtension: String { self == .mpegts ? "ts" : "m4s" }
}

extension TransportStreamMuxer: SegmentMuxer {
    public var initialization: ByteBuffer? { nil }

    public mutating func beginSegment(into buffer: inout ByteBuffer) {
        writeTables(into: &buffer)
    }

    public mutating func endFragment(endingAt end: Int64, into buffer: inout ByteBuffer) {}
}

extension FragmentedMP4Muxer: SegmentMuxer {}

/// The muxer a ``Segmenter`` holds: one case per format, so the segmenter has a fixed layout. (Held as
/// an `any SegmentMuxer`, it made the segmenter address-only, and the compiler copied the whole
/// segmenter, every field retained, several times per sample.)
enum FormatMuxer: SegmentMuxer {
    case mpegts(TransportStreamMuxer)
    case cmaf(FragmentedMP4Muxer)
    /// Only while a mutating call runs: the muxer is moved out, so it is changed in place rather than
    /// copied (its buffers and tables stay uniquely referenced).
    case moved

    var initialization: ByteBuffer? {
        if case .cmaf(let muxer) = self { return muxer.initialization }
        return nil
    }

    mutating func beginSegment(into buffer: inout ByteBuffer) {
        update({ $0.beginSegment(into: &buffer) }, { $0.beginSegment(into: &buffer) })
    }

    mutating func write(_ sample: MediaSample, into buffer: inout ByteBuffer) throws {
        try update({ try $0.write(sample, into: &buffer) }, { try $0.write(sample, into: &buffer) })
    }

    mutating func endFragment(endingAt end: Int64, into buffer: inout ByteBuffer) {
        update({ $0.endFragment(endingAt: end, into: &buffer) }, { $0.endFragment(endingAt: end, into: &buffer) })
    }

    @inline(__always)
    private mutating func update(_ mpegts: (inout TransportStreamMuxer) throws -> Void,
                                 _ cmaf: (inout FragmentedMP4Muxer) throws -> Void) rethrows {
        switch self {
        case .mpegts(var muxer):
            self = .moved
            defer { self = .mpegts(muxer) }
            try mpegts(&muxer)
        case .cmaf(var muxer):
            self = .moved
            defer { self = .cmaf(muxer) }
            try cmaf(&muxer)
        case .moved:
            preconditionFailure("a muxer was used while it was being changed")
        }
    }
}
