import NIOCore

/// What the demuxer hands on: the track set (whenever it becomes known or changes) and samples.
public enum FLVDemuxerEvent: Sendable {
    /// The tracks of the stream from now on. Emitted once before the first sample and again when a
    /// sequence header changes (resolution change, encoder restart) or a track appears late.
    case tracks(video: MediaTrack?, audio: MediaTrack?)
    /// One access unit.
    case sample(MediaSample)
}

/// Turns the FLV tag bodies of one RTMP publish into ``MediaTrack``s and ``MediaSample``s.
///
/// Decides when the track set is known, so that the PMT lists exactly the tracks present:
/// - with onMetaData announcing `videocodecid`/`audiocodecid` (OBS, ffmpeg, GStreamer), once every
///   announced track has its sequence header;
/// - without metadata, at the first coded frame after a sequence header;
/// - in any case once `maximumPendingDuration` of media has waited (an announced track never came).
/// Samples that arrive before then wait in a bounded queue; samples of a track without a
/// sequence header are dropped.
public struct FLVDemuxer: Sendable {
    /// Longest span of media held back while waiting for announced sequence headers (90 kHz ticks).
    public var maximumPendingDuration: Int64
    /// Most samples held back while waiting (a hostile publisher cannot grow memory without bound).
    public var maximumPendingSamples: Int

    private var expectVideo: Bool?
    private var expectAudio: Bool?
    private var video: AVCDecoderConfigurationRecord?
    private var audio: AudioSpecificConfig?
    private var announced = false
    private var pending: [MediaSample] = []

    /// Creates a demuxer; defaults hold back at most 3 s or 1024 samples.
    public init(maximumPendingDuration: Int64 = 3 * MediaTime.timescale, maximumPendingSamples: Int = 1024) {
        self.maximumPendingDuration = maximumPendingDuration
        self.maximumPendingSamples = maximumPendingSamples
    }

    /// The video configuration, once known.
    public var videoConfiguration: AVCDecoderConfigurationRecord? { video }
    /// The audio configuration, once known.
    public var audioConfiguration: AudioSpecificConfig? { audio }

    /// Takes the arguments of an `onMetaData` data message.
    public mutating func metadata(_ values: [AMFValue]) {
        guard !announced, let object = values.first(where: { $0["videocodecid"] != nil || $0["audiocodecid"] != nil || $0["width"] != nil }) else { return }
        expectVideo = object["videocodecid"] != nil || object["width"] != nil
        expectAudio = object["audiocodecid"] != nil || object["audiosamplerate"] != nil
    }

    /// Takes a video tag body with its RTMP timestamp in milliseconds.
    public mutating func video(timestamp: Int64, body: ByteBuffer) throws -> [FLVDemuxerEvent] {
        switch try FLVVideoTag(parsing: body) {
        case .ignorable:
            return []
        case .avcSequenceHeader(let payload):
            let record = try AVCDecoderConfigurationRecord(parsing: payload)
            guard record != video else { return [] }
            video = record
            return announced ? [trackEvent] : release(force: false)
        case .avcNALUnits(let isKeyframe, let compositionTime, let data):
            guard video != nil, data.readableBytes > 0 else { return [] }
            let dts = MediaTime.ticks(milliseconds: timestamp)
            let pts = dts + MediaTime.ticks(milliseconds: Int64(compositionTime))
            return try enqueue(MediaSample(kind: .video, dts: dts, pts: pts, isKeyframe: isKeyframe, payload: data))
        }
    }

    /// Takes an audio tag body with its RTMP timestamp in milliseconds.
    public mutating func audio(timestamp: Int64, body: ByteBuffer) throws -> [FLVDemuxerEvent] {
        switch try FLVAudioTag(parsing: body) {
        case .aacSequenceHeader(let payload):
            let config = try AudioSpecificConfig(parsing: payload)
            guard config != audio else { return [] }
            audio = config
            return announced ? [trackEvent] : release(force: false)
        case .aacRaw(let data):
            guard audio != nil, data.readableBytes > 0 else { return [] }
            let dts = MediaTime.ticks(milliseconds: timestamp)
            return try enqueue(MediaSample(kind: .audio, dts: dts, pts: dts, isKeyframe: true, payload: data))
        }
    }

    private var trackEvent: FLVDemuxerEvent {
        .tracks(video: video.map(MediaTrack.h264), audio: audio.map(MediaTrack.aac))
    }

    private mutating func enqueue(_ sample: MediaSample) throws -> [FLVDemuxerEvent] {
        if announced { return [.sample(sample)] }
        pending.append(sample)
        let waited = (pending.last?.dts ?? 0) - (pending.first?.dts ?? 0)
        let overdue = waited >= maximumPendingDuration || pending.count >= maximumPendingSamples
        let noMetadata = expectVideo == nil && expectAudio == nil
        return release(force: overdue || noMetadata)
    }

    /// Announces the tracks and hands out the held samples when the track set is complete (or `force`).
    private mutating func release(force: Bool) -> [FLVDemuxerEvent] {
        let complete = (expectVideo != true || video != nil) && (expectAudio != true || audio != nil)
            && (expectVideo != nil || expectAudio != nil)
        guard force || complete, video != nil || audio != nil else { return [] }
        announced = true
        let events = [trackEvent] + pending.map(FLVDemuxerEvent.sample)
        pending.removeAll()
        return events
    }
}
