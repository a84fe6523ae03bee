import Foundation
import Media
import NIOCore
import Synchronization

/// One asset being recorded, in `<recordings.directory>/<asset id>/`:
///
/// ```
/// index.m3u8     EVENT playlist, appended segment by segment after the segment's file is in place,
///                so a crash leaves every segment written before it listed; rewritten once as VOD
///                (PLAYLIST-TYPE VOD, ENDLIST) when the broadcast ends
/// init<k>.mp4    CMAF: the init sections, a new one where the tracks change
/// <n>.ts|.m4s    the broadcast's segments as packaged for the live playlist, numbered from 0
/// ```
/// The packager's calls only queue work with the ``Recorder``; its loop, one job at a time, calls
/// ``write(_:)`` and ``writeFinal()`` (file system work, on NIO's thread pool) and keeps ``Progress``.
final class AssetRecording: SegmentRecorder {
    /// What the recorder's loop knows of the recording. Only the loop changes it.
    struct Progress: Sendable {
        var playlist: MediaPlaylist
        /// The EXT-X-MAP in effect at the end of the file, and the init section it names.
        var writtenMap: String?
        var initialization: ByteBuffer?
        var initCount = 0
        /// A reconnect (or a restart) since the last segment: the next one is a discontinuity.
        var pendingDiscontinuity = false
        var bytes: Int64 = 0
        var maxBitrate = 0
        var variant: Variant?
        var audioChannels: Int?
        var recordingTimes: [Asset.RecordingTime] = []
        /// A publisher's stretch of content is open (closed when it leaves).
        var stretchOpen = false
        /// `video.asset.ready` was sent.
        var ready = false
        /// When the asset was last written to the database.
        var savedAt: ContinuousClock.Instant?
        /// The EVENT playlist's text as last rendered (nil: changed since).
        var rendered: ByteBuffer?
        var videoTrackID: String
        var audioTrackID: String
    }

    let assetID: String
    let liveStreamID: String
    let files: SegmentFiles
    let format: SegmentFormat
    private let recorder: Recorder
    private let progress: Mutex<Progress>

    /// What the packager's side and the API may change at any time, apart from the loop's progress.
    private struct Flags {
        /// No more work is taken (finished, or the asset was deleted).
        var closed = false
        /// New segments are taken (false once the queue overflowed: what was queued is still written).
        var accepting = true
        /// Why recording stopped early (a limit, a disk error); nothing more is written.
        var stopped: String?
    }
    private let flags = Mutex(Flags())

    /// A new recording with an empty EVENT playlist, or one continuing `resuming` (left by a crash)
    /// with what its stored asset says of it so far.
    init(assetID: String, liveStreamID: String, directory: String, format: SegmentFormat, targetDuration: Int,
         resuming: MediaPlaylist? = nil, bytes: Int64 = 0, asset stored: Asset? = nil, recorder: Recorder, makeID: () -> String) {
        self.assetID = assetID
        self.liveStreamID = liveStreamID
        self.files = SegmentFiles(directory: directory)
        self.format = format
        self.recorder = recorder
        var playlist = resuming ?? MediaPlaylist(version: format == .cmaf ? 6 : 3, targetDuration: targetDuration)
        playlist.playlistType = .event
        var progress = Progress(playlist: playlist, videoTrackID: makeID(), audioTrackID: makeID())
        progress.writtenMap = playlist.segments.last?.map
        progress.initCount = Set(playlist.segments.compactMap(\.map)).count
        progress.pendingDiscontinuity = resuming != nil && !playlist.segments.isEmpty
        progress.bytes = bytes
        if let stored {
            progress.ready = stored.status == .ready
            // The stretches as the playlist has them (the database's lag up to a save behind): a new
            // one at each discontinuity, where a publisher came back.
            for segment in playlist.segments {
                let seconds = MediaTime.seconds(ticks: segment.duration)
                if segment.discontinuity || progress.recordingTimes.isEmpty {
                    progress.recordingTimes.append(Asset.RecordingTime(startedAt: segment.programDateTime ?? stored.createdAt * 1000, duration: seconds))
                } else {
                    progress.recordingTimes[progress.recordingTimes.count - 1].duration += seconds
                }
            }
            progress.maxBitrate = stored.maxBitrate ?? 0
            for track in stored.tracks {
                if track.type == .video {
                    progress.videoTrackID = track.id
                    progress.variant = Variant(codecs: stored.codecs ?? "", bandwidth: 0, averageBandwidth: 0,
                                               resolution: track.resolution,
                                               frameRate: track.maxFrameRate)
                } else {
                    progress.audioTrackID = track.id
                    progress.audioChannels = track.maxChannels
                }
            }
            if progress.variant == nil, let codecs = stored.codecs { progress.variant = Variant(codecs: codecs, bandwidth: 0, averageBandwidth: 0) }
        }
        self.progress = Mutex(progress)
    }

    // MARK: SegmentRecorder (the packager's side: queue and return)

    func record(_ segment: RecordedSegment) {
        guard flags.withLock({ !$0.closed && $0.accepting && $0.stopped == nil }) else { return }
        recorder.enqueue(.segment(self, segment), bytes: segment.bytes.readableBytes)
    }

    func sessionEnded() {
        guard !isClosed else { return }
        recorder.enqueue(.sessionEnded(self), bytes: 0)
    }

    func finish() {
        guard !isClosed else { return }
        recorder.enqueue(.finish(self), bytes: 0)
    }

    var isClosed: Bool { flags.withLock { $0.closed } }

    /// Takes no more work; false when it was closed already.
    func close() -> Bool {
        flags.withLock { flags in
            defer { flags.closed = true }
            return !flags.closed
        }
    }

    /// Takes no new segments (what is queued is still written).
    func stopAccepting() { flags.withLock { $0.accepting = false } }

    /// Why recording stopped early; nil while it goes on.
    var stopped: String? { flags.withLock { $0.stopped } }

    /// Stops the recording for `reason`; false when it had stopped already.
    func stop(_ reason: String) -> Bool {
        flags.withLock { flags in
            guard flags.stopped == nil else { return false }
            flags.stopped = reason
            return true
        }
    }

    // MARK: The recorder's loop

    var state: Progress { progress.withLock { $0 } }

    /// Changes the progress (the recorder's loop only).
    func update(_ change: (inout Progress) -> Void) {
        progress.withLock { change(&$0) }
    }

    /// The playlist file as it stands: the header of a new recording, or what a recovered one holds
    /// (so appends follow whole lines, whatever a crash left at the end).
    func writePlaylist() throws {
        try files.create()
        try files.write("index.m3u8", text: state.playlist.render())
    }

    /// Writes the segment (and its init section when it is new), then appends it to the playlist;
    /// the bytes it added. On a failure nothing of it stays listed.
    func write(_ segment: RecordedSegment) throws -> Int64 {
        // What the files need, read first; the progress is changed in place after them (a copy
        // changed would copy the whole segment list per segment).
        let (index, writtenMap, initialization, initCount, pending) = progress.withLock {
            ($0.playlist.segments.count, $0.writtenMap, $0.initialization, $0.initCount, $0.pendingDiscontinuity)
        }
        var added: Int64 = 0
        var map = writtenMap
        let newInitialization = segment.initialization.flatMap { $0 != initialization ? $0 : nil }
        if let newInitialization {
            let name = "init\(initCount).mp4"
            try files.write(name, newInitialization)
            map = name
            added += Int64(newInitialization.readableBytes)
        }
        let name = "\(index).\(format.segmentExtension)"
        try files.write(name, segment.bytes)
        let entry = PlaylistSegment(uri: name, duration: segment.duration, discontinuity: segment.discontinuity || pending,
                                    programDateTime: segment.programDateTime, map: map)
        var written = writtenMap
        do {
            try files.append("index.m3u8", text: MediaPlaylist.render(entry, after: &written))
        } catch {
            files.remove(name)
            throw error
        }
        added += Int64(segment.bytes.readableBytes)
        let seconds = MediaTime.seconds(ticks: segment.duration)
        let bitrate = Int((Double(segment.bytes.readableBytes * 8) / max(seconds, 0.001)).rounded(.up))
        progress.withLock { next in
            if let newInitialization {
                next.initCount += 1
                next.initialization = newInitialization
            }
            next.writtenMap = written
            next.pendingDiscontinuity = false
            next.playlist.segments.append(entry)
            next.playlist.targetDuration = max(next.playlist.targetDuration, Int(seconds.rounded()))
            next.bytes += added
            next.maxBitrate = max(next.maxBitrate, bitrate)
            if let variant = segment.variant {
                var merged = variant
                if let old = next.variant?.resolution, let new = variant.resolution {
                    merged.resolution = (max(old.width, new.width), max(old.height, new.height))
                }
                merged.frameRate = [next.variant?.frameRate, variant.frameRate].compactMap { $0 }.max()
                next.variant = merged
            }
            if case .aac(let config) = segment.audio { next.audioChannels = config.channelConfiguration }
            if next.stretchOpen, !next.recordingTimes.isEmpty {
                next.recordingTimes[next.recordingTimes.count - 1].duration += seconds
            } else {
                next.recordingTimes.append(Asset.RecordingTime(startedAt: segment.programDateTime, duration: seconds))
                next.stretchOpen = true
            }
            next.rendered = nil
        }
        return added
    }

    /// Rewrites the playlist as VOD: the recording is final.
    func writeFinal() throws {
        var playlist = state.playlist
        playlist.playlistType = .vod
        playlist.endList = true
        try files.write("index.m3u8", text: playlist.render())
    }

    /// The EVENT playlist while recording (rendered once per segment).
    var eventPlaylist: ByteBuffer {
        progress.withLock { progress in
            if let rendered = progress.rendered { return rendered }
            let bytes = ByteBuffer(string: progress.playlist.render())
            progress.rendered = bytes
            return bytes
        }
    }

    /// What the recording says about its asset: duration, sizes, tracks, recording times.
    func describe(_ asset: inout Asset) {
        let progress = state
        let duration = progress.playlist.segments.reduce(Int64(0)) { $0 + $1.duration }
        asset.duration = progress.playlist.segments.isEmpty ? nil : (MediaTime.seconds(ticks: duration) * 1000).rounded() / 1000
        asset.bytes = progress.bytes
        asset.maxBitrate = progress.maxBitrate > 0 ? progress.maxBitrate : nil
        asset.codecs = progress.variant?.codecs
        asset.recordingTimes = progress.recordingTimes
        var tracks: [Asset.Track] = []
        if let variant = progress.variant, variant.resolution != nil || variant.codecs.contains("avc1") {
            tracks.append(Asset.Track(id: progress.videoTrackID, type: .video, duration: asset.duration,
                                      maxWidth: variant.resolution?.width, maxHeight: variant.resolution?.height,
                                      maxFrameRate: variant.frameRate.map { ($0 * 1000).rounded() / 1000 }))
        }
        if let channels = progress.audioChannels {
            tracks.append(Asset.Track(id: progress.audioTrackID, type: .audio, duration: asset.duration, maxChannels: channels))
        }
        asset.tracks = tracks
    }

    /// The playlist of an interrupted recording as its file holds it: parsed up to its last whole
    /// segment entry, and only as far as its segment files exist. Nil when nothing is usable.
    static func recover(_ files: SegmentFiles) -> (playlist: MediaPlaylist, bytes: Int64)? {
        guard let bytes = files.read("index.m3u8") else { return nil }
        var lines = String(buffer: bytes).split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        while !lines.isEmpty {
            if var playlist = try? MediaPlaylist(parsing: lines.joined(separator: "\n")) {
                var total: Int64 = 0
                var kept: [PlaylistSegment] = []
                for segment in playlist.segments {
                    guard !segment.uri.contains("/"), let size = files.size(segment.uri) else { break }
                    total += size
                    kept.append(segment)
                }
                for map in Set(kept.compactMap(\.map)) { total += files.size(map) ?? 0 }
                playlist.segments = kept
                playlist.endList = false
                return (playlist, total)
            }
            lines.removeLast()  // a torn last entry
        }
        return nil
    }
}
