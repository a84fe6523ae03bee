import NIOCore

/// A progressive ("fast start") MP4 of whole samples, as a recording's static renditions are served
/// (ISO/IEC 14496-12 §8.1.1, §8.2; ISO/IEC 14496-14): `ftyp`, `moov` with every sample's tables,
/// then one `mdat` with the samples in the order they were added. The index comes first, so a
/// player starts while the file downloads and seeks with byte ranges.
///
/// ```
/// ftyp   isom (MP4) | M4A  (audio only)
/// moov   mvhd (ms), trak video (track 1), trak audio: ``TrackBox`` with a ``SampleTable`` each
/// mdat   sample 0 | sample 1 | ...          one sample per chunk, offsets in stco (co64 past 4 GiB)
/// ```
///
/// Two passes over the same samples: ``add(_:startsDiscontinuity:)`` notes each sample's size and
/// timing (its bytes are not kept), ``header()`` writes everything before the samples' bytes, which
/// the caller then writes in the same order. Timing: the first sample at 0; after a discontinuity
/// (a reconnect: the encoder's clock restarted) the samples follow the end of what came before.
/// Audio is timed in whole AAC frames at its sample rate, re-anchored when the source drifts by more
/// than two frames (as ``FragmentedMP4Muxer`` does). Samples of a track the movie does not have are
/// left out.
public struct ProgressiveMovie: Sendable {
    public enum Brand: Sendable { case mp4, m4a }

    private struct Track: Sendable {
        var id: UInt32
        var entry: SampleEntry
        var timescale: UInt32
        var table = SampleTable()
        var decodeTimes: [Int64] = []
        /// Decode delta used for the last sample (and before two samples are known).
        var defaultDelta: Int64
        var lastStitched: Int64?
    }

    public let brand: Brand
    private var video: Track?
    private var audio: Track?
    /// The mdat's order: true for a video sample.
    private var order: [Bool] = []
    /// Added to a sample's DTS (90 kHz) to place it on the movie's timeline.
    private var shift: Int64?
    /// The end of the media so far on that timeline.
    private var end: Int64 = 0
    /// Bytes of the samples (the mdat's body).
    public private(set) var mediaDataSize: Int64 = 0
    /// The largest forward step of a track's clock taken as it is (10 s, in 90 kHz ticks); beyond it, or
    /// more than two frames back, the clock restarted.
    public static let maximumStep: Int64 = 10 * 90_000

    public init(video: MediaTrack?, audio: MediaTrack?, brand: Brand = .mp4) {
        self.brand = brand
        if case .h264(let record) = video, brand == .mp4 {
            let sps = record.sequenceParameterSets.first.flatMap { try? SequenceParameterSet(parsing: $0) }
            let step = sps?.frameDuration ?? 3000
            self.video = Track(id: 1, entry: .avc1(AVCSampleEntry(width: sps?.width ?? 0, height: sps?.height ?? 0, configuration: record)),
                               timescale: UInt32(MediaTime.timescale), defaultDelta: step)
        }
        if case .aac(let config) = audio {
            let id: UInt32 = self.video == nil ? 1 : 2
            self.audio = Track(id: id, entry: .mp4a(MP4AudioSampleEntry(trackID: id, configuration: config)),
                               timescale: UInt32(config.sampleRate), defaultDelta: 1024)
        }
    }

    /// Whether the movie has a track of this kind.
    public func includes(_ kind: TrackKind) -> Bool { kind == .video ? video != nil : audio != nil }

    /// Notes the next sample of the mdat; `startsDiscontinuity` for the first sample after a reconnect.
    /// False (nothing noted) for a sample of a track the movie does not have.
    @discardableResult
    public mutating func add(_ sample: MediaSample, startsDiscontinuity: Bool = false) -> Bool {
        add(SampleInfo(sample), startsDiscontinuity: startsDiscontinuity)
    }

    /// What the movie needs of a sample: everything but its bytes.
    public struct SampleInfo: Sendable, Equatable {
        public var kind: TrackKind
        public var dts: Int64
        public var pts: Int64
        public var isKeyframe: Bool
        public var size: Int

        public init(_ sample: MediaSample) {
            self.init(kind: sample.kind, dts: sample.dts, pts: sample.pts, isKeyframe: sample.isKeyframe, size: sample.payload.readableBytes)
        }

        public init(kind: TrackKind, dts: Int64, pts: Int64, isKeyframe: Bool, size: Int) {
            self.kind = kind
            self.dts = dts
            self.pts = pts
            self.isKeyframe = isKeyframe
            self.size = size
        }
    }

    /// ``add(_:startsDiscontinuity:)`` from a sample's description.
    @discardableResult
    public mutating func add(_ sample: SampleInfo, startsDiscontinuity: Bool = false) -> Bool {
        guard includes(sample.kind) else { return false }
        if shift == nil || startsDiscontinuity { shift = end - sample.dts }
        var stitched = sample.dts + shift!
        // A clock that jumped without a discontinuity being said (back, or far ahead) starts one.
        let track = sample.kind == .video ? video! : audio!
        let frame = track.defaultDelta * MediaTime.timescale / Int64(track.timescale)  // one frame, 90 kHz
        if let last = track.lastStitched, stitched < last - 2 * frame || stitched > last + Self.maximumStep {
            shift = end - sample.dts
            stitched = end
        }
        if sample.kind == .video {
            var track = video!
            let time = max(stitched, (track.lastStitched ?? -1) + 1)
            track.lastStitched = time
            track.decodeTimes.append(time)
            track.table.sizes.append(UInt32(clamping: sample.size))
            track.table.compositionOffsets.append(Int32(clamping: sample.pts - sample.dts))
            track.table.isSync.append(sample.isKeyframe)
            end = max(end, time + track.defaultDelta)
            video = track
        } else {
            var track = audio!
            track.lastStitched = stitched
            let rate = Int64(track.timescale)
            let source = stitched * rate / MediaTime.timescale
            var time = source
            if let last = track.decodeTimes.last {
                let expected = last + track.defaultDelta
                time = abs(source - expected) > 2 * track.defaultDelta || startsDiscontinuity ? max(source, last + 1) : expected
            }
            track.decodeTimes.append(time)
            track.table.sizes.append(UInt32(clamping: sample.size))
            track.table.compositionOffsets.append(0)
            track.table.isSync.append(true)
            end = max(end, (time + track.defaultDelta) * MediaTime.timescale / rate)
            audio = track
        }
        order.append(sample.kind == .video)
        mediaDataSize += Int64(sample.size)
        return true
    }

    /// The samples noted.
    public var sampleCount: Int { order.count }

    /// Everything before the samples' bytes: ftyp, moov with every chunk's offset, the mdat header.
    public func header() -> ByteBuffer {
        var tracks = [video, audio].compactMap { $0 }.map(Self.finished)
        let largeMedia = mediaDataSize + 8 > Int64(UInt32.max)
        let mdatHeader = largeMedia ? 16 : 8
        // Offsets do not change the moov's size once stco or co64 is chosen: size it with zero offsets,
        // stco first; co64 when the file's last byte lies past 4 GiB.
        func sized(large: Bool) -> UInt64 {
            for index in tracks.indices {
                tracks[index].table.largeOffsets = large
                tracks[index].table.chunkOffsets = Array(repeating: 0, count: tracks[index].table.count)
            }
            return UInt64(fileType.readableBytes + movie(tracks).readableBytes + mdatHeader)
        }
        var base = sized(large: false)
        if base + UInt64(mediaDataSize) > UInt64(UInt32.max) { base = sized(large: true) }
        var next = [Int](repeating: 0, count: tracks.count)
        var offset = base
        for isVideo in order {
            let index = isVideo || video == nil ? 0 : 1
            tracks[index].table.chunkOffsets[next[index]] = offset
            offset += UInt64(tracks[index].table.sizes[next[index]])
            next[index] += 1
        }
        var bytes = fileType
        var moov = movie(tracks)
        bytes.writeBuffer(&moov)
        if largeMedia {
            bytes.writeInteger(UInt32(1))
            bytes.writeInteger(FourCC("mdat").rawValue)
            bytes.writeInteger(UInt64(mediaDataSize + 16))
        } else {
            bytes.writeInteger(UInt32(mediaDataSize + 8))
            bytes.writeInteger(FourCC("mdat").rawValue)
        }
        return bytes
    }

    /// The movie's duration in seconds.
    public var duration: Double {
        [video, audio].compactMap { $0 }.map(Self.finished).map { Double($0.table.duration) / Double($0.timescale) }.max() ?? 0
    }

    private var fileType: ByteBuffer {
        var buffer = ByteBuffer()
        let box = brand == .mp4 ? FileTypeBox(majorBrand: "isom", minorVersion: 512, compatibleBrands: ["isom", "iso2", "avc1", "mp41"])
                                : FileTypeBox(majorBrand: "M4A ", minorVersion: 512, compatibleBrands: ["M4A ", "isom", "iso2", "mp41"])
        box.write(into: &buffer)
        return buffer
    }

    private func movie(_ tracks: [Track]) -> ByteBuffer {
        var buffer = ByteBuffer()
        let milliseconds = tracks.map { $0.table.duration * UInt64(MovieHeaderBox.timescale) / UInt64($0.timescale) }
        buffer.writeBox("moov") { moov in
            MovieHeaderBox(duration: milliseconds.max() ?? 0, nextTrackID: (tracks.map(\.id).max() ?? 0) + 1).write(into: &moov)
            for (track, duration) in zip(tracks, milliseconds) {
                TrackBox(trackID: track.id, timescale: track.timescale, sampleEntry: track.entry, samples: track.table,
                         movieDuration: duration).write(into: &moov)
            }
        }
        return buffer
    }

    /// The track with its decode deltas: each sample lasts until the next; the last as long as the one before.
    private static func finished(_ track: Track) -> Track {
        var track = track
        let times = track.decodeTimes
        track.table.durations = times.indices.map { index in
            let delta = index + 1 < times.count ? times[index + 1] - times[index]
                : times.count > 1 ? times[index] - times[index - 1] : track.defaultDelta
            return UInt32(clamping: max(1, delta))
        }
        return track
    }
}
