import Media
import NIOCore

/// A segment as the packager published it, for a recording of the broadcast.
struct RecordedSegment: Sendable {
    var bytes: ByteBuffer
    /// CMAF: the init section the segment needs (the same buffer until the tracks change); nil for MPEG-TS.
    var initialization: ByteBuffer?
    /// 90 kHz ticks.
    var duration: Int64
    /// The first segment after a reconnect, a timestamp jump or a track change.
    var discontinuity: Bool
    /// Wall-clock milliseconds of its first frame (EXT-X-PROGRAM-DATE-TIME).
    var programDateTime: Int64
    /// The tracks, and what the variant says about them (size, frame rate, codecs).
    var video: MediaTrack?
    var audio: MediaTrack?
    var variant: Variant?
}

/// Where a recorded broadcast's segments go besides the live playlist (Recording conforms). The
/// packager calls it under its pipeline lock: an implementation queues and returns, it never waits
/// for a disk, so a slow recording cannot slow ingest or live playback.
protocol SegmentRecorder: AnyObject, Sendable {
    /// The asset being recorded.
    var assetID: String { get }
    /// One more segment, in order.
    func record(_ segment: RecordedSegment)
    /// The publisher is gone; the broadcast may continue (the next segment is a discontinuity).
    func sessionEnded()
    /// The broadcast is over: what is queued is written and the asset completed.
    func finish()
}

/// Starts the recording of a broadcast (Recording conforms).
protocol SegmentRecorderFactory: Sendable {
    /// The recorder of a new broadcast of `stream` in `format`; nil when the stream does not record
    /// (no `new_asset_settings`) or the recording cannot start (said in the log).
    func makeRecorder(for stream: LiveStream, format: SegmentFormat, segmentDuration: Double) async -> (any SegmentRecorder)?
}
