import NIOCore

/// Muxes H.264 and AAC samples into CMAF: an ``InitializationSegment`` and ``MovieFragment``s, one
/// fragment per HLS part (ISO/IEC 23000-19 §7.3.2; RFC 8216bis §3.1.2).
///
/// ```
/// track 1  video  timescale 90 kHz    tfdt = DTS + offset; durations = DTS steps; CTS offset = PTS - DTS
/// track 2  audio  timescale = rate    decode time counts 1024 samples per AAC frame, re-anchored on
///                                     the DTS when the two drift more than two frames apart
/// ```
/// Samples are held until ``endFragment(endingAt:into:)``: a sample's duration is only known once
/// the next one (or the fragment's end) is. No edit list: the FLV timestamps already align the tracks.
public struct FragmentedMP4Muxer: Sendable {
    public static let videoTrackID: UInt32 = 1
    public static let audioTrackID: UInt32 = 2
    /// Added to every decode time, as ``TransportStreamMuxer/timestampOffset`` is to PTS/DTS, so a
    /// first frame with a negative composition offset stays at a positive presentation time.
    public static let timestampOffset: Int64 = TransportStreamMuxer.timestampOffset

    private struct Held {
        var decodeTime: Int64
        var compositionOffset: Int32
        var isKeyframe: Bool
        var size: UInt32
    }

    public let initialization: ByteBuffer?
    private let videoLengthSize: Int?
    private let audioRate: Int64?
    private let audioFrameTicks: Int64
    /// mfhd sequence number of the next fragment.
    public private(set) var sequenceNumber: UInt32
    private var video: [Held] = []
    private var audio: [Held] = []
    private var videoData = ByteBuffer()
    private var audioData = ByteBuffer()
    /// Decode time (audio timescale) the next audio frame gets.
    private var audioClock: Int64?
    /// Last DTS step of the video track, for a last sample whose successor is not known.
    private var videoStep: Int64 = 3000

    /// A muxer for the tracks present; fragments are numbered from `sequenceNumber`.
    public init(video: MediaTrack?, audio: MediaTrack?, sequenceNumber: UInt32 = 1) {
        self.sequenceNumber = max(1, sequenceNumber)
        var tracks: [TrackBox] = []
        var lengthSize: Int?
        if case .h264(let record) = video {
            let sps = record.sequenceParameterSets.first.flatMap { try? SequenceParameterSet(parsing: $0) }
            tracks.append(TrackBox(trackID: Self.videoTrackID, timescale: UInt32(MediaTime.timescale),
                                   sampleEntry: .avc1(AVCSampleEntry(width: sps?.width ?? 0, height: sps?.height ?? 0,
                                                                     configuration: record))))
            lengthSize = record.nalUnitLengthSize
            if let step = sps?.frameDuration { videoStep = step }
        }
        var rate: Int64?
        if case .aac(let config) = audio {
            tracks.append(TrackBox(trackID: Self.audioTrackID, timescale: UInt32(config.sampleRate),
                                   sampleEntry: .mp4a(MP4AudioSampleEntry(trackID: Self.audioTrackID, configuration: config))))
            rate = Int64(config.sampleRate)
        }
        videoLengthSize = lengthSize
        audioRate = rate
        audioFrameTicks = 1024
        initialization = tracks.isEmpty ? nil : InitializationSegment(tracks: tracks).bytes
    }
}

extension FragmentedMP4Muxer {
    public mutating func beginSegment(into buffer: inout ByteBuffer) {}

    /// Throws ``MPEGTSError/trackNotConfigured(_:)`` for a track the muxer lacks and ``H264Error``
    /// for a video sample whose NAL unit lengths do not add up.
    public mutating func write(_ sample: MediaSample, into buffer: inout ByteBuffer) throws {
        let size = UInt32(clamping: sample.payload.readableBytes)
        switch sample.kind {
        case .video:
            guard let lengthSize = videoLengthSize else { throw MPEGTSError.trackNotConfigured(.video) }
            _ = try AnnexB.nalUnits(inAVCC: sample.payload, nalUnitLengthSize: lengthSize)
            let decodeTime = sample.dts + Self.timestampOffset
            if let last = video.last, decodeTime > last.decodeTime { videoStep = decodeTime - last.decodeTime }
            video.append(Held(decodeTime: decodeTime, compositionOffset: Int32(clamping: sample.pts - sample.dts),
                              isKeyframe: sample.isKeyframe, size: size))
            videoData.writeImmutableBuffer(sample.payload)
        case .audio:
            guard let rate = audioRate else { throw MPEGTSError.trackNotConfigured(.audio) }
            let anchored = (sample.dts + Self.timestampOffset) * rate / MediaTime.timescale
            if audioClock == nil || abs(anchored - audioClock!) > 2 * audioFrameTicks { audioClock = anchored }
            audio.append(Held(decodeTime: audioClock!, compositionOffset: 0, isKeyframe: true, size: size))
            audioClock! += audioFrameTicks
            audioData.writeImmutableBuffer(sample.payload)
        }
    }

    public mutating func endFragment(endingAt end: Int64, into buffer: inout ByteBuffer) {
        guard !video.isEmpty || !audio.isEmpty else { return }
        var runs: [MovieFragment.Run] = []
        if let first = video.first {
            let lastDuration = end + Self.timestampOffset - video.last!.decodeTime
            runs.append(MovieFragment.Run(trackID: Self.videoTrackID, baseMediaDecodeTime: UInt64(max(0, first.decodeTime)),
                                          samples: Self.samples(video, lastDuration: lastDuration > 0 ? lastDuration : videoStep, flags: true),
                                          data: videoData))
        }
        if let first = audio.first {
            runs.append(MovieFragment.Run(trackID: Self.audioTrackID, baseMediaDecodeTime: UInt64(max(0, first.decodeTime)),
                                          samples: Self.samples(audio, lastDuration: audioFrameTicks, flags: false),
                                          data: audioData))
        }
        MovieFragment(sequenceNumber: sequenceNumber, runs: runs).write(into: &buffer)
        sequenceNumber &+= 1
        video.removeAll(keepingCapacity: true)
        audio.removeAll(keepingCapacity: true)
        videoData = ByteBuffer()
        audioData = ByteBuffer()
    }

    /// Durations from the decode-time steps, the last one given.
    private static func samples(_ held: [Held], lastDuration: Int64, flags: Bool) -> [MovieFragment.Sample] {
        held.indices.map { index in
            let duration = index + 1 < held.count ? held[index + 1].decodeTime - held[index].decodeTime : lastDuration
            return MovieFragment.Sample(duration: UInt32(clamping: max(0, duration)), size: held[index].size,
                                        flags: flags ? (held[index].isKeyframe ? .sync : .nonSync) : nil,
                                        compositionOffset: held[index].compositionOffset)
        }
    }
}
