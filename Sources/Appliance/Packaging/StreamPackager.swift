import Foundation
import Logging
import Media
import Metrics
import NIOCore
import Synchronization

/// Settings of the HLS packager (from `hls.*`).
struct PackagerSettings: Sendable {
    var segmentDuration: Double
    var playlistLength: Int
    var deleteGraceSegments: Int
    var maxBytesPerStream: Int64
}

/// One broadcast's HLS pipeline: Segmenter -> MPEG-TS segments -> `<dir>/<id>/index.m3u8` in tmpfs.
///
/// Lives as long as the broadcast, across publisher reconnects (new session: the next segment carries
/// EXT-X-DISCONTINUITY and sequence numbers keep rising). Segments that leave the playlist are deleted
/// only after `deleteGraceSegments` more have left. The per-stream and total byte budgets drop the
/// oldest segments; a full disk drops old segments and, failing that, skips a segment — ingest never stops.
final class StreamPackager: StreamOutput {
    private struct OnDisk {
        var uri: String
        var bytes: Int64
        var duration: Int64
    }

    private struct State {
        var session = 0
        var segmenter: Segmenter?
        var window: LivePlaylistWindow
        var onDisk: [OnDisk] = []          // oldest first: grace segments, then the playlist's
        var graceCount = 0                 // how many of onDisk have left the playlist
        var streamBytes: Int64 = 0
        var discontinuityPending = false
        var anchor: (wallMilliseconds: Int64, dts: Int64)?
        var ended = false
        var video: MediaTrack?
        var audio: MediaTrack?
        var frameRate = FrameRateMeter()
        /// When the last sample arrived, and the last segment was published (or the first sample came).
        var lastSampleAt: NIODeadline?
        var lastSegmentAt: NIODeadline?
        /// The playlist as last written, served from memory while the broadcast runs.
        var playlistBytes: ByteBuffer?
        /// `onPlayable` was called.
        var announcedPlayable = false
        /// The video track's SPS, parsed once per track change (size and frame rate for the variant).
        var sps: SequenceParameterSet?
    }

    private struct Meters {
        let written: Counter
        let droppedForBudget: Counter
        let droppedForDisk: Counter
        let droppedForSpace: Counter
        let publishDelay = Metrics.Timer(label: MetricsRegistry.segmentPublishDelay)
        init(liveStreamID: String) {
            let id = ("live_stream_id", liveStreamID)
            written = Counter(label: MetricsRegistry.segmentsWritten, dimensions: [id])
            droppedForBudget = Counter(label: MetricsRegistry.segmentsDropped, dimensions: [id, ("reason", "budget")])
            droppedForDisk = Counter(label: MetricsRegistry.segmentsDropped, dimensions: [id, ("reason", "write_failed")])
            droppedForSpace = Counter(label: MetricsRegistry.segmentsDropped, dimensions: [id, ("reason", "disk_full")])
        }
    }

    let liveStreamID: String
    private let files: SegmentFiles
    private let settings: PackagerSettings
    private let budget: HLSBudget
    private let prefix: String
    private let wallClock: @Sendable () -> Int64
    private let logger: Logger
    private let state: Mutex<State>
    private let onEnd: @Sendable (String) -> Void
    private let onPlayable: @Sendable () -> Void
    private let meters: Meters

    /// Prepares the directory. A playlist without ENDLIST written less than `resumeWithin` seconds ago
    /// is a broadcast interrupted by a crash or power cut: it is continued (same media sequence, the
    /// next segment after a discontinuity) so players keep going. Other leftovers are removed.
    init(liveStreamID: String, directory: String, settings: PackagerSettings, budget: HLSBudget,
         wallClock: @escaping @Sendable () -> Int64, logger: Logger, resumeWithin: Double = 0,
         onEnd: @escaping @Sendable (String) -> Void = { _ in }, onPlayable: @escaping @Sendable () -> Void = {}) {
        self.liveStreamID = liveStreamID
        self.onEnd = onEnd
        self.onPlayable = onPlayable
        self.meters = Meters(liveStreamID: liveStreamID)
        self.files = SegmentFiles(directory: directory)
        self.settings = settings
        self.budget = budget
        self.wallClock = wallClock
        // Segment names carry the broadcast's start time so a new broadcast never reuses a name a
        // player or cache may still hold from an earlier one.
        self.prefix = String(wallClock(), radix: 36)
        var logger = logger
        logger[metadataKey: "live_stream_id"] = "\(liveStreamID)"
        self.logger = logger
        let target = Int64(settings.segmentDuration * Double(MediaTime.timescale))
        var initial = State(window: LivePlaylistWindow(length: settings.playlistLength, targetDuration: target))
        do {
            try files.create()
            if let resumed = Self.unfinishedBroadcast(in: files, within: resumeWithin, now: wallClock()) {
                initial.window = LivePlaylistWindow(length: settings.playlistLength, targetDuration: target, resuming: resumed.playlist)
                initial.onDisk = resumed.onDisk.suffix(initial.window.playlist.segments.count)
                initial.streamBytes = initial.onDisk.reduce(0) { $0 + $1.bytes }
                initial.discontinuityPending = true
                initial.playlistBytes = ByteBuffer(string: initial.window.playlist.render())
                logger.notice("continuing an interrupted broadcast", metadata: [
                    "segments": "\(initial.onDisk.count)", "media_sequence": "\(initial.window.playlist.mediaSequence)"])
            }
            let kept = Set(initial.onDisk.map(\.uri) + (initial.onDisk.isEmpty ? [] : ["index.m3u8"]))
            for name in files.names() where !kept.contains(name) { files.remove(name) }
        } catch {
            logger.error("cannot prepare stream directory", metadata: ["error": "\(error)"])
        }
        budget.add(initial.streamBytes)
        state = Mutex(initial)
    }

    /// The playlist and segment sizes of a broadcast that stopped without ENDLIST less than `within`
    /// seconds before `now` (milliseconds): its newest segments whose files are still there (older ones
    /// count as having left the window, so sequence numbers stay right); nil when none are.
    private static func unfinishedBroadcast(in files: SegmentFiles, within: Double, now: Int64) -> (playlist: MediaPlaylist, onDisk: [OnDisk])? {
        guard within > 0, let written = files.modificationTime("index.m3u8"),
              Double(now - written) / 1000 <= within,
              let bytes = files.read("index.m3u8"),
              var playlist = try? MediaPlaylist(parsing: String(buffer: bytes)),
              !playlist.endList else { return nil }
        var onDisk: [OnDisk] = []
        for segment in playlist.segments.reversed() {
            guard !segment.uri.contains("/"), let size = files.size(segment.uri) else { break }
            onDisk.insert(OnDisk(uri: segment.uri, bytes: size, duration: segment.duration), at: 0)
        }
        guard !onDisk.isEmpty else { return nil }
        let gone = playlist.segments.prefix(playlist.segments.count - onDisk.count)
        playlist.mediaSequence += gone.count
        playlist.discontinuitySequence += gone.filter(\.discontinuity).count
        playlist.segments.removeFirst(gone.count)
        return (playlist, onDisk)
    }

    private var segmenterConfiguration: SegmenterConfiguration {
        SegmenterConfiguration(targetDuration: Int64(settings.segmentDuration * Double(MediaTime.timescale)))
    }

    func sessionStarted(_ session: Int) {
        state.withLock { state in
            state.session = session
            state.lastSegmentAt = nil
            var segmenter = Segmenter(configuration: segmenterConfiguration)
            if !state.window.playlist.segments.isEmpty || state.discontinuityPending { segmenter.markDiscontinuity() }
            state.segmenter = segmenter
            state.anchor = nil
        }
    }

    func tracks(video: MediaTrack?, audio: MediaTrack?, session: Int) {
        state.withLock { state in
            guard state.session == session, !state.ended, state.segmenter != nil else { return }
            state.video = video
            state.audio = audio
            if case .h264(let record) = video {
                state.sps = record.sequenceParameterSets.first.flatMap { try? SequenceParameterSet(parsing: $0) }
            } else {
                state.sps = nil
            }
            let closed = state.segmenter!.setTracks(video: video, audio: audio)
            for segment in closed { publish(segment, &state) }
        }
    }

    func append(_ sample: MediaSample, session: Int) {
        state.withLock { state in
            // The segmenter is mutated in place (`state.segmenter!`): a local copy would share the
            // open segment's buffer and copy the whole segment on every sample.
            guard state.session == session, !state.ended, state.segmenter != nil else { return }
            if state.anchor == nil { state.anchor = (wallClock(), sample.dts) }
            if sample.kind == .video { state.frameRate.add(dts: sample.dts) }
            let arrived = NIODeadline.now()
            state.lastSampleAt = arrived
            if state.lastSegmentAt == nil { state.lastSegmentAt = arrived }  // progress is measured from here
            do {
                let closed = try state.segmenter!.append(sample)
                for segment in closed { publish(segment, &state) }
                if !closed.isEmpty {
                    meters.publishDelay.recordNanoseconds((NIODeadline.now() - arrived).nanoseconds)
                }
            } catch {
                logger.warning("sample dropped", metadata: ["error": "\(error)"])
            }
        }
    }

    func sessionEnded(_ session: Int) {
        state.withLock { state in
            guard state.session == session, state.segmenter != nil else { return }
            if let last = state.segmenter!.finish() { publish(last, &state) }
            state.segmenter = nil
            state.discontinuityPending = true
        }
    }

    func broadcastEnded() {
        onEnd(liveStreamID)
        state.withLock { state in
            guard !state.ended else { return }
            if state.segmenter != nil, let last = state.segmenter!.finish() { publish(last, &state) }
            state.segmenter = nil
            state.ended = true
            state.window.end()
            writePlaylist(&state)
        }
    }

    /// The playlist as last written (for tests and the playback side).
    var playlist: MediaPlaylist { state.withLock { $0.window.playlist } }

    /// Whether samples keep arriving but no segment has been published for `limit` (a stuck pipeline).
    func isStalled(now: NIODeadline, limit: TimeAmount) -> Bool {
        state.withLock { state in
            guard !state.ended, let sample = state.lastSampleAt, now - sample < .seconds(5),
                  let progress = state.lastSegmentAt else { return false }
            return now - progress > limit
        }
    }

    /// Segments a live playlist needs before players are pointed at it: RFC 8216 §6.3.3 has clients
    /// start three target durations from the end, and Chromium fails on a shorter live playlist.
    static let minimumPlayableSegments = 3

    /// Whether the playlist has enough segments to be played (or is final).
    var isPlayable: Bool {
        state.withLock { Self.isPlayable($0) }
    }

    /// The media playlist as last written, once it is playable; nil before.
    var playableMediaPlaylist: ByteBuffer? {
        state.withLock { Self.isPlayable($0) ? $0.playlistBytes : nil }
    }

    private static func isPlayable(_ state: State) -> Bool {
        state.window.playlist.segments.count >= minimumPlayableSegments || state.window.playlist.endList
    }

    /// What a multivariant playlist says about this stream; nil until it is playable.
    var variant: Variant? {
        state.withLock { state in
            let listed = state.onDisk.suffix(state.window.playlist.segments.count)
            guard listed.count >= Self.minimumPlayableSegments || (state.window.playlist.endList && !listed.isEmpty),
                  state.video != nil || state.audio != nil else { return nil }
            let rates = listed.map { Double($0.bytes * 8) / max(MediaTime.seconds(ticks: $0.duration), 0.001) }
            let totalSeconds = listed.reduce(0.0) { $0 + MediaTime.seconds(ticks: $1.duration) }
            let totalBits = Double(listed.reduce(Int64(0)) { $0 + $1.bytes } * 8)
            var variant = Variant(codecs: [state.video, state.audio].compactMap { $0?.codecString }.joined(separator: ","),
                                  bandwidth: Int((rates.max() ?? 0).rounded(.up)),
                                  averageBandwidth: Int((totalBits / max(totalSeconds, 0.001)).rounded(.up)))
            if let sps = state.sps {
                variant.resolution = (sps.width, sps.height)
                variant.frameRate = sps.frameRate ?? state.frameRate.rate
            } else if state.video != nil {
                variant.frameRate = state.frameRate.rate
            }
            return variant
        }
    }

    // MARK: Publishing a segment

    private func publish(_ segment: Segment, _ state: inout State) {
        guard segment.duration > 0, segment.bytes.readableBytes > 0 else { return }
        let size = Int64(segment.bytes.readableBytes)
        makeRoom(for: size, &state)
        let uri = "\(prefix)-\(state.window.nextSequenceNumber).ts"
        do {
            try writeWithRetry(uri, segment.bytes, &state)
        } catch {
            logger.error("segment skipped: cannot write it", metadata: ["segment": "\(uri)", "error": "\(error)"])
            meters.droppedForDisk.increment()
            state.discontinuityPending = true
            writePlaylist(&state)  // making room may have taken segments out of the playlist
            return
        }
        meters.written.increment()
        state.lastSegmentAt = NIODeadline.now()
        state.onDisk.append(OnDisk(uri: uri, bytes: size, duration: segment.duration))
        state.streamBytes += size
        budget.add(size)

        if segment.discontinuity || state.anchor == nil { state.anchor = (wallClock() - MediaTime.milliseconds(ticks: segment.duration), segment.startDTS) }
        let anchor = state.anchor!
        let programDateTime = anchor.wallMilliseconds + MediaTime.milliseconds(ticks: segment.startDTS - anchor.dts)
        let entry = PlaylistSegment(uri: uri, duration: segment.duration,
                                    discontinuity: segment.discontinuity || state.discontinuityPending,
                                    programDateTime: programDateTime)
        state.discontinuityPending = false
        let evicted = state.window.append(entry)
        state.graceCount += evicted.count
        while state.graceCount > settings.deleteGraceSegments { removeOldest(&state) }
        writePlaylist(&state)
        if !state.announcedPlayable, Self.isPlayable(state), state.onDisk.count >= Self.minimumPlayableSegments,
           state.video != nil || state.audio != nil {
            // The playback URL answers 200 from now on: the hub may call the stream active.
            state.announcedPlayable = true
            onPlayable()
        }
    }

    /// Writes a segment; on a full file system, drops the oldest segments (those that left the
    /// playlist first, then the playlist's oldest) until it fits or nothing is left to drop.
    private func writeWithRetry(_ uri: String, _ bytes: ByteBuffer, _ state: inout State) throws {
        var dropped = 0
        defer {
            if dropped > 0 {
                meters.droppedForSpace.increment(by: dropped)
                logger.error("disk full: dropped old segments", metadata: ["dropped": "\(dropped)", "stream_bytes": "\(state.streamBytes)"])
            }
        }
        while true {
            do {
                return try files.write(uri, bytes)
            } catch let failure as SegmentFiles.Failure where failure.isOutOfSpace {
                guard dropOldest(&state) else { throw failure }
                dropped += 1
            }
        }
    }

    /// Keeps the stream and the whole appliance inside their byte budgets by dropping the oldest
    /// segments: first those that already left the playlist, then the playlist's oldest.
    private func makeRoom(for size: Int64, _ state: inout State) {
        var dropped = 0
        while state.streamBytes + size > settings.maxBytesPerStream || !budget.fits(size), dropOldest(&state) {
            dropped += 1
        }
        if dropped > 0 {
            meters.droppedForBudget.increment(by: dropped)
            logger.warning("byte budget exceeded: dropped old segments", metadata: [
                "dropped": "\(dropped)", "stream_bytes": "\(state.streamBytes)", "total_bytes": "\(budget.bytesUsed)"])
        }
    }

    /// Deletes the oldest segment on disk, taking it out of the playlist first if it is still listed;
    /// false when there is none.
    private func dropOldest(_ state: inout State) -> Bool {
        guard !state.onDisk.isEmpty else { return false }
        if state.graceCount == 0 {
            guard state.window.removeOldest() != nil else { return false }
            state.graceCount += 1
        }
        removeOldest(&state)
        return true
    }

    private func removeOldest(_ state: inout State) {
        guard !state.onDisk.isEmpty, state.graceCount > 0 else { return }
        let oldest = state.onDisk.removeFirst()
        state.graceCount -= 1
        state.streamBytes -= oldest.bytes
        budget.add(-oldest.bytes)
        files.remove(oldest.uri)
    }

    private func writePlaylist(_ state: inout State) {
        let bytes = ByteBuffer(string: state.window.playlist.render())
        state.playlistBytes = bytes
        do {
            try files.write("index.m3u8", bytes)
        } catch {
            logger.error("cannot write playlist", metadata: ["error": "\(error)"])
        }
    }

    deinit {
        let bytes = state.withLock { $0.streamBytes }
        budget.add(-bytes)
    }
}

/// Makes a ``StreamPackager`` per broadcast under `hls.directory` and keeps the live ones findable
/// for playback. Reduced and low latency streams get 1 s segments (until Low-Latency HLS exists).
final class PackagerFactory: StreamOutputFactory {
    let root: String
    private let currentSettings: Mutex<PackagerSettings>
    let budget: HLSBudget
    let logger: Logger
    let wallClock: @Sendable () -> Int64
    private let live = Mutex<[String: StreamPackager]>([:])

    init(root: String, settings: PackagerSettings, budget: HLSBudget, logger: Logger, wallClock: @escaping @Sendable () -> Int64) {
        self.root = root
        self.currentSettings = Mutex(settings)
        self.budget = budget
        self.logger = logger
        self.wallClock = wallClock
    }

    /// Settings for broadcasts that start from now on (a reload changes them; running ones keep theirs).
    var settings: PackagerSettings {
        get { currentSettings.withLock { $0 } }
        set { currentSettings.withLock { $0 = newValue } }
    }

    func makeOutput(for stream: LiveStream, onPlayable: @escaping @Sendable () -> Void) -> any StreamOutput {
        var settings = settings
        if stream.latencyMode != .standard { settings.segmentDuration = min(settings.segmentDuration, 1) }
        let packager = StreamPackager(liveStreamID: stream.id, directory: directory(of: stream.id), settings: settings,
                                      budget: budget, wallClock: wallClock, logger: logger,
                                      resumeWithin: stream.reconnectWindow, onEnd: { [weak self] id in
            self?.live.withLock { _ = $0.removeValue(forKey: id) }
        }, onPlayable: onPlayable)
        live.withLock { $0[stream.id] = packager }
        return packager
    }

    /// Every broadcast in progress.
    var livePackagers: [StreamPackager] { live.withLock { Array($0.values) } }

    /// The packager of a broadcast in progress.
    func packager(liveStreamID: String) -> StreamPackager? { live.withLock { $0[liveStreamID] } }

    /// Where a stream's playlist and segments are.
    func directory(of liveStreamID: String) -> String { root + "/" + liveStreamID }

    /// Removes a deleted stream's files (on a queue of its own: the caller may be the hub's task).
    func removeFiles(of liveStreamID: String) {
        let path = directory(of: liveStreamID)
        DispatchQueue.global().async { try? FileManager.default.removeItem(atPath: path) }
    }
}

/// A variant's attributes for EXT-X-STREAM-INF.
struct Variant: Sendable {
    var codecs: String
    var bandwidth: Int
    var averageBandwidth: Int
    var resolution: (width: Int, height: Int)?
    var frameRate: Double?
}

/// Frame rate measured from video decode timestamps, for streams whose SPS has no timing info.
struct FrameRateMeter: Sendable {
    private var first: Int64?
    private var last: Int64 = 0
    private var frames = 0

    mutating func add(dts: Int64) {
        if first == nil || dts < last { first = dts; frames = 0 }
        frames += 1
        last = dts
    }

    /// Frames per second, once two frames were seen.
    var rate: Double? {
        guard let first, frames > 1, last > first else { return nil }
        return Double(frames - 1) / MediaTime.seconds(ticks: last - first)
    }
}
