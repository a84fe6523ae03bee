import Foundation
import Logging
import CompressNIO
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
    /// MPEG-TS (`standard` latency) or CMAF (`reduced`, `low`).
    var format: SegmentFormat = .mpegts
    /// Low-Latency HLS (`low`): the part target in seconds; nil for no parts.
    var partDuration: Double?
}

/// One broadcast's HLS pipeline: Segmenter -> MPEG-TS or CMAF segments -> `<dir>/<id>/index.m3u8` in
/// tmpfs. With Low-Latency HLS (parts), parts live in memory and are served from there; the
/// playlist lists them (``MediaPlaylist/serverControl``) and held requests are woken as each appears.
///
/// Lives as long as the broadcast, across publisher reconnects (new session: the next segment carries
/// EXT-X-DISCONTINUITY and sequence numbers keep rising). ``SegmentRetention`` decides what stays on
/// disk (grace window, byte budgets); a full disk drops old segments and, failing that, skips a
/// segment: ingest never stops.
///
/// Two locks. The writers (the publisher's event loop, the hub) hold `pipeline` while they mux and
/// while they write and delete files, one writer at a time. Playback and the health check read only
/// `published` (the playlist bytes, the variant, progress times), which is updated after the files are
/// in place and is never held across a file system call: a slow tmpfs cannot stall a viewer.
final class StreamPackager: StreamOutput {
    private struct Pipeline {
        var session = 0
        var segmenter: Segmenter?
        var retention: SegmentRetention
        var discontinuityPending = false
        var anchor: (wallMilliseconds: Int64, dts: Int64)?
        var ended = false
        var video: MediaTrack?
        var audio: MediaTrack?
        /// The video track's SPS, parsed once per track change (size and frame rate for the variant).
        var sps: SequenceParameterSet?
        var frameRate = FrameRateMeter()
        /// `onPlayable` was called.
        var announcedPlayable = false
        /// CMAF: the init section in effect, its URI, and how many were written.
        var initialization: ByteBuffer?
        var map: String?
        var initCount = 0
        /// Low-Latency HLS: the segment being filled, as the playlist lists it, and the next part's index.
        var openSegment: MediaPlaylist.OpenSegment?
        var nextPart = 0
    }

    /// What readers see: as of the last playlist written.
    private struct Published {
        var playlist: MediaPlaylist
        /// Where `playlist`'s first segment starts on the broadcast's timeline, in ticks.
        var playlistStart: Int64 = 0
        var playlistBytes: ByteBuffer?
        var playable = false
        var variant: Variant?
        var ended = false
        /// When the last sample arrived, and the last segment was published (or the first sample came).
        var lastSampleAt: NIODeadline?
        var lastSegmentAt: NIODeadline?
        /// Low-Latency HLS: the delta update (`_HLS_skip=YES`) of `playlist`.
        var deltaBytes: ByteBuffer?
        /// One more per playlist written; the gzipped playlist and delta of this version, once asked for.
        var version = 0
        /// The version held requests were last woken for.
        var wokenVersion = 0
        var gzipped: ByteBuffer?
        var gzippedDelta: ByteBuffer?
        /// Low-Latency HLS: the parts still downloadable, by their stream-wide index, and the next index.
        var parts: [Int: ByteBuffer] = [:]
        var nextPart = 0
        /// Parts below this index are gone from memory.
        var partsKeptFrom = 0
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
    private let pipeline: Mutex<Pipeline>
    private let published: Mutex<Published>
    private let onEnd: @Sendable (String) -> Void
    private let onPlayable: @Sendable () -> Void
    private let meters: Meters
    /// Blocking playlist reloads and hinted-part requests waiting for the next part or segment.
    let held: HeldRequests
    /// The LL-HLS server rules, fixed before the first playlist; nil without parts.
    let serverControl: MediaPlaylist.ServerControl?
    /// The broadcast's recording, when the stream records.
    let recorder: (any SegmentRecorder)?

    var assetID: String? { recorder?.assetID }

    /// Prepares the directory. An ``InterruptedBroadcast`` less than `resumeWithin` seconds old is
    /// continued; other leftovers are removed.
    init(liveStreamID: String, directory: String, settings: PackagerSettings, budget: HLSBudget,
         wallClock: @escaping @Sendable () -> Int64, logger: Logger, resumeWithin: Double = 0,
         holdLimit: HoldLimit = HoldLimit(limit: 10_000), recorder: (any SegmentRecorder)? = nil,
         onEnd: @escaping @Sendable (String) -> Void = { _ in }, onPlayable: @escaping @Sendable () -> Void = {}) {
        self.liveStreamID = liveStreamID
        self.recorder = recorder
        self.held = HeldRequests(limit: holdLimit)
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
        var window = LivePlaylistWindow(length: settings.playlistLength, targetDuration: target)
        serverControl = Self.serverControl(settings, targetDuration: window.playlist.targetDuration)
        var kept: [SegmentRetention.File] = []
        var resumedBytes: ByteBuffer?
        do {
            try files.create()
            if let resumed = InterruptedBroadcast.find(in: files, within: resumeWithin, now: wallClock()) {
                window = LivePlaylistWindow(length: settings.playlistLength, targetDuration: target, resuming: resumed.playlist)
                kept = Array(resumed.files.suffix(window.playlist.segments.count))
                resumedBytes = ByteBuffer(string: window.playlist.render())
                logger.notice("continuing an interrupted broadcast", metadata: [
                    "segments": "\(kept.count)", "media_sequence": "\(window.playlist.mediaSequence)"])
            }
            let maps = window.playlist.segments.compactMap(\.map)
            let keep = Set(kept.map(\.uri) + maps + (kept.isEmpty ? [] : ["index.m3u8"]))
            for name in files.names() where !keep.contains(name) { files.remove(name) }
        } catch {
            logger.error("cannot prepare stream directory", metadata: ["error": "\(error)"])
        }
        var initial = Pipeline(retention: SegmentRetention(window: window, graceSegments: settings.deleteGraceSegments,
                                                          maxBytes: settings.maxBytesPerStream, files: kept))
        initial.discontinuityPending = !kept.isEmpty
        budget.add(initial.retention.bytes)
        pipeline = Mutex(initial)
        published = Mutex(Published(playlist: window.playlist, playlistBytes: resumedBytes, playable: Self.isPlayable(initial)))
    }

    private var segmenterConfiguration: SegmenterConfiguration {
        SegmenterConfiguration(targetDuration: Int64(settings.segmentDuration * Double(MediaTime.timescale)),
                               format: settings.format, partTarget: Self.partLength(settings))
    }

    /// Where the segmenter cuts parts: `hls.part_duration` in ticks.
    static func partLength(_ settings: PackagerSettings) -> Int64? {
        guard settings.format == .cmaf, let seconds = settings.partDuration else { return nil }
        return Int64((seconds * Double(MediaTime.timescale)).rounded())
    }

    /// How much longer than the part length a part can get: RTMP's whole-millisecond timestamps
    /// make a frame up to a millisecond late, twice over in a worst case.
    static let partJitter: Int64 = 180

    /// PART-TARGET: the part length plus the jitter, so no part exceeds it (0.336 s for 0.334 s parts);
    /// PART-HOLD-BACK: three of them (Apple's MUST; the spec's floor is two); CAN-SKIP-UNTIL: six
    /// target durations (the minimum). Fixed before the first playlist, never changed.
    static func serverControl(_ settings: PackagerSettings, targetDuration: Int) -> MediaPlaylist.ServerControl? {
        guard let length = partLength(settings) else { return nil }
        let partTarget = length + partJitter
        return MediaPlaylist.ServerControl(partTarget: partTarget, partHoldBack: 3 * partTarget, canSkipUntil: 6 * targetDuration)
    }

    func sessionStarted(_ session: Int) {
        pipeline.withLock { state in
            state.session = session
            var segmenter = Segmenter(configuration: segmenterConfiguration)
            if !state.retention.window.playlist.segments.isEmpty || state.discontinuityPending { segmenter.markDiscontinuity() }
            state.segmenter = segmenter
            state.anchor = nil
        }
        published.withLock { $0.lastSegmentAt = nil }
    }

    /// Runs a writer's change under the pipeline lock, then answers held requests the change satisfied
    /// (outside the lock: waking runs every waiter's condition, and the fast path's callbacks).
    private func changing(_ body: (inout Pipeline) -> Void) {
        pipeline.withLock { body(&$0) }
        let changed = published.withLock { published -> Bool in
            guard published.version != published.wokenVersion else { return false }
            published.wokenVersion = published.version
            return true
        }
        if changed { held.wake() }
    }

    func tracks(video: MediaTrack?, audio: MediaTrack?, session: Int) {
        changing { state in
            guard state.session == session, !state.ended, state.segmenter != nil else { return }
            state.video = video
            state.audio = audio
            if case .h264(let record) = video {
                state.sps = record.sequenceParameterSets.first.flatMap { try? SequenceParameterSet(parsing: $0) }
            } else {
                state.sps = nil
            }
            let closed = state.segmenter!.setTracks(video: video, audio: audio)
            handle(closed, &state)
            if let initialization = state.segmenter!.initialization, initialization != state.initialization {
                let uri = "\(prefix)-init\(state.initCount).mp4"
                do {
                    try files.write(uri, initialization)
                    state.initCount += 1
                    state.initialization = initialization
                    state.map = uri
                } catch {
                    logger.error("cannot write the init section", metadata: ["file": "\(uri)", "error": "\(error)"])
                }
            }
        }
    }

    /// Publishes what the segmenter closed, in order.
    private func handle(_ outputs: [SegmenterOutput], _ state: inout Pipeline) {
        for output in outputs {
            switch output {
            case .part(let part): publish(part, &state)
            case .segment(let segment): publish(segment, &state)
            }
        }
    }

    func append(_ sample: MediaSample, session: Int) {
        changing { state in
            // The segmenter is mutated in place (`state.segmenter!`): a local copy would share the
            // open segment's buffer and copy the whole segment on every sample.
            guard state.session == session, !state.ended, state.segmenter != nil else { return }
            if state.anchor == nil { state.anchor = (wallClock(), sample.dts) }
            if sample.kind == .video { state.frameRate.add(dts: sample.dts) }
            let arrived = NIODeadline.now()
            published.withLock { published in
                published.lastSampleAt = arrived
                if published.lastSegmentAt == nil { published.lastSegmentAt = arrived }  // progress is measured from here
            }
            do {
                let closed = try state.segmenter!.append(sample)
                handle(closed, &state)
                if !closed.isEmpty {
                    meters.publishDelay.recordNanoseconds((NIODeadline.now() - arrived).nanoseconds)
                }
            } catch {
                logger.warning("sample dropped", metadata: ["error": "\(error)"])
            }
        }
    }

    func sessionEnded(_ session: Int) {
        changing { state in
            guard state.session == session, state.segmenter != nil else { return }
            handle(state.segmenter!.finish(), &state)
            state.segmenter = nil
            state.discontinuityPending = true
            recorder?.sessionEnded()
        }
    }

    func broadcastEnded() {
        onEnd(liveStreamID)
        changing { state in
            guard !state.ended else { return }
            if state.segmenter != nil { handle(state.segmenter!.finish(), &state) }
            state.segmenter = nil
            state.ended = true
            state.openSegment = nil
            state.retention.end()
            writePlaylist(&state)
            recorder?.finish()
        }
    }

    /// The playlist as last written (for tests and the playback side).
    var playlist: MediaPlaylist { published.withLock { $0.playlist } }

    /// The live window's segments on the broadcast's timeline (its files are in the stream's directory).
    var timeline: PlaylistTimeline { published.withLock { PlaylistTimeline($0.playlist, start: $0.playlistStart) } }

    /// Whether samples keep arriving but no segment has been published for `limit` (a stuck pipeline).
    func isStalled(now: NIODeadline, limit: TimeAmount) -> Bool {
        published.withLock { state in
            guard !state.ended, let sample = state.lastSampleAt, now - sample < .seconds(5),
                  let progress = state.lastSegmentAt else { return false }
            return now - progress > limit
        }
    }

    /// Segments a live playlist needs before players are pointed at it: RFC 8216 §6.3.3 has clients
    /// start three target durations from the end, and Chromium fails on a shorter live playlist.
    static let minimumPlayableSegments = 3

    /// Whether the playlist has enough segments to be played (or is final).
    var isPlayable: Bool { published.withLock { $0.playable } }

    /// What a live media playlist request gets.
    enum PlaylistAnswer: Sendable, Equatable {
        /// The playlist, gzipped when asked for (RFC 8216bis App. B.1: playlists SHOULD be compressed).
        case playlist(ByteBuffer, gzipped: Bool)
        /// Fewer than three segments yet.
        case notPlayable
        /// The directives ask for something too far ahead (RFC 8216bis §6.2.5.2).
        case badRequest(String)
        /// Held for three target durations without the part appearing (§6.2.5.2: 503).
        case timedOut
    }

    /// How long a request is held at most: three target durations (§6.2.5.2).
    var holdTimeout: Duration { .seconds(3 * playlist.targetDuration) }

    /// The media playlist, after holding a blocking reload until what it asks for is there; the
    /// delta update when `delta` and the stream offers them. Directives are ignored without LL-HLS.
    /// `early`: a blocking reload answered before its part exists (over ``HoldLimit/limit``): not to be cached.
    func mediaPlaylist(reload: BlockingReload?, delta: Bool, gzip: Bool = false) async -> (answer: PlaylistAnswer, early: Bool) {
        let playlist: MediaPlaylist? = published.withLock { $0.playable ? $0.playlist : nil }
        guard let playlist else { return (.notPlayable, false) }
        var early = false
        if let reload, serverControl != nil {
            switch reload.decision(in: playlist) {
            case .badRequest:
                return (.badRequest("_HLS_msn=\(reload.mediaSequence)" + (reload.part.map { " _HLS_part=\($0)" } ?? "")
                                    + " is too far ahead of the live edge"), false)
            case .hold:
                switch await held.wait(timeout: holdTimeout, until: { [weak self] in self?.isSatisfied(reload) ?? true }) {
                case .timedOut: return (.timedOut, false)
                case .overLimit: early = true
                case .ready: break
                }
            case .answer: break
            }
        }
        return (playlistBytes(delta: delta && serverControl != nil, gzip: gzip), early)
    }

    /// The current playlist (or its delta), gzipped once per version for every client that asks;
    /// not playable before three segments. Never waits.
    func playlistBytes(delta: Bool, gzip: Bool) -> PlaylistAnswer {
        versionedPlaylist(delta: delta, gzip: gzip).answer
    }

    /// ``playlistBytes(delta:gzip:)`` with the version it is of (one more per playlist written).
    func versionedPlaylist(delta: Bool, gzip: Bool) -> (answer: PlaylistAnswer, version: Int) {
        let (version, plain, cached) = published.withLock { published in
            let plain = !published.playable ? nil : delta ? published.deltaBytes ?? published.playlistBytes : published.playlistBytes
            return (published.version, plain, delta && published.deltaBytes != nil ? published.gzippedDelta : published.gzipped)
        }
        guard var plain else { return (.notPlayable, version) }
        guard gzip else { return (.playlist(plain, gzipped: false), version) }
        if let cached { return (.playlist(cached, gzipped: true), version) }
        let original = plain
        guard let compressed = try? plain.compress(with: .gzip) else { return (.playlist(original, gzipped: false), version) }
        published.withLock { published in
            guard published.version == version else { return }
            if delta && published.deltaBytes != nil { published.gzippedDelta = compressed } else { published.gzipped = compressed }
        }
        return (.playlist(compressed, gzipped: true), version)
    }

    /// What to do now with a blocking reload (LL-HLS only; nil before the playlist is playable).
    func decision(_ reload: BlockingReload) -> BlockingReload.Decision? {
        published.withLock { $0.playable ? reload.decision(in: $0.playlist) : nil }
    }

    /// Whether a held blocking reload can be answered: what it asks for is there, or the stream ended.
    func isSatisfied(_ reload: BlockingReload) -> Bool {
        published.withLock { $0.ended || reload.decision(in: $0.playlist) != .hold }
    }

    /// What a part request gets.
    enum PartAnswer: Sendable, Equatable {
        case part(ByteBuffer)
        case notFound
        case timedOut
    }

    /// A part from memory by URI. The hinted part (the next one) is held until it is complete, then
    /// sent whole (§6.2.6); any other part that is not (or no longer) there is not found.
    func part(named uri: String) async -> PartAnswer {
        guard serverControl != nil, let index = partIndex(uri) else { return .notFound }
        let (bytes, next, ended) = published.withLock { ($0.parts[index], $0.nextPart, $0.ended) }
        if let bytes { return .part(bytes) }
        guard index == next, !ended else { return .notFound }
        let outcome = await held.wait(timeout: holdTimeout) { [weak self] in
            self?.published.withLock { $0.ended || $0.nextPart > index } ?? true
        }
        if outcome == .timedOut { return .timedOut }
        return published.withLock { $0.parts[index] }.map(PartAnswer.part) ?? .notFound
    }

    /// What a multivariant playlist says about this stream; nil until it is playable.
    var variant: Variant? { published.withLock { $0.variant } }

    private static func isPlayable(_ state: Pipeline) -> Bool {
        let playlist = state.retention.window.playlist
        return playlist.segments.count >= minimumPlayableSegments || playlist.endList
    }

    /// The variant's attributes from the segments the playlist lists; nil until it is playable.
    private static func variant(_ state: Pipeline) -> Variant? {
        let listed = state.retention.listed
        guard listed.count >= minimumPlayableSegments || (state.retention.window.playlist.endList && !listed.isEmpty),
              var variant = trackVariant(state) else { return nil }
        let rates = listed.map { Double($0.bytes * 8) / max(MediaTime.seconds(ticks: $0.duration), 0.001) }
        let totalSeconds = listed.reduce(0.0) { $0 + MediaTime.seconds(ticks: $1.duration) }
        let totalBits = Double(listed.reduce(Int64(0)) { $0 + $1.bytes } * 8)
        variant.bandwidth = Int((rates.max() ?? 0).rounded(.up))
        variant.averageBandwidth = Int((totalBits / max(totalSeconds, 0.001)).rounded(.up))
        return variant
    }

    /// What the tracks say about the variant (codecs, size, frame rate), bandwidths left at 0; nil without tracks.
    private static func trackVariant(_ state: Pipeline) -> Variant? {
        guard state.video != nil || state.audio != nil else { return nil }
        var variant = Variant(codecs: [state.video, state.audio].compactMap { $0?.codecString }.joined(separator: ","),
                              bandwidth: 0, averageBandwidth: 0)
        if let sps = state.sps {
            variant.resolution = (sps.width, sps.height)
            variant.frameRate = sps.frameRate ?? state.frameRate.rate
        } else if state.video != nil {
            variant.frameRate = state.frameRate.rate
        }
        return variant
    }

    // MARK: Publishing a segment

    /// Low-Latency HLS: a part of the open segment goes into memory and the playlist.
    private func publish(_ part: Part, _ state: inout Pipeline) {
        guard part.bytes.readableBytes > 0 else { return }
        let index = state.nextPart
        state.nextPart += 1
        published.withLock { published in
            published.parts[index] = part.bytes
            published.nextPart = index + 1
        }
        var open = state.openSegment ?? MediaPlaylist.OpenSegment()
        if open.parts.isEmpty {
            open.discontinuity = part.discontinuity || state.discontinuityPending
            open.programDateTime = programDateTime(of: part.startDTS, endingNowAfter: part.duration, restart: open.discontinuity, &state)
            open.map = state.map
        }
        // A part is at most PART-TARGET long but for a gap in the media longer than a part; the playlist
        // never says more (the segment's EXTINF keeps the true length).
        let duration = min(part.duration, serverControl?.partTarget ?? part.duration)
        open.parts.append(PlaylistPart(uri: partURI(index), duration: duration, independent: part.independent))
        state.openSegment = open
        writePlaylist(&state)
    }

    /// The URI of the part with stream-wide index `index` (numbered across segments and reconnects,
    /// so a hinted URI stays right whether or not the next part starts a segment).
    func partURI(_ index: Int) -> String { "\(prefix)-p\(index).m4s" }

    /// The stream-wide index of a part URI of this broadcast; nil for anything else.
    func partIndex(_ uri: String) -> Int? {
        guard uri.hasPrefix(prefix + "-p"), uri.hasSuffix(".m4s") else { return nil }
        let digits = uri.dropFirst(prefix.count + 2).dropLast(4)
        guard (1...18).contains(digits.count), digits.allSatisfy(\.isASCII), digits.allSatisfy(\.isNumber) else { return nil }
        return Int(digits)
    }

    private func publish(_ segment: Segment, _ state: inout Pipeline) {
        let open = state.openSegment
        state.openSegment = nil
        guard segment.duration > 0, segment.bytes.readableBytes > 0 else { return }
        // Its tags: those its parts were listed with already, or new ones.
        let listed = open.flatMap { $0.parts.isEmpty ? nil : $0 }
        let discontinuity = listed?.discontinuity ?? (segment.discontinuity || state.discontinuityPending)
        let programDateTime = listed?.programDateTime
            ?? programDateTime(of: segment.startDTS, endingNowAfter: segment.duration, restart: segment.discontinuity, &state)
        // The recording gets every segment, also one the live playlist cannot keep (a full tmpfs).
        recorder?.record(RecordedSegment(bytes: segment.bytes, initialization: state.initialization, duration: segment.duration,
                                         discontinuity: discontinuity, programDateTime: programDateTime,
                                         video: state.video, audio: state.audio, variant: Self.trackVariant(state)))
        let size = Int64(segment.bytes.readableBytes)
        let overBudget = state.retention.makeRoom(for: size, totalFree: budget.limit - budget.bytesUsed)
        if !overBudget.isEmpty {
            delete(overBudget)
            meters.droppedForBudget.increment(by: overBudget.count)
            logger.warning("byte budget exceeded: dropped old segments", metadata: [
                "dropped": "\(overBudget.count)", "stream_bytes": "\(state.retention.bytes)", "total_bytes": "\(budget.bytesUsed)"])
        }
        let uri = "\(prefix)-\(state.retention.window.nextSequenceNumber).\(settings.format.segmentExtension)"
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
        budget.add(size)

        let entry = PlaylistSegment(uri: uri, duration: segment.duration, discontinuity: discontinuity, programDateTime: programDateTime,
                                    map: listed?.map ?? state.map, parts: listed?.parts ?? [])
        state.discontinuityPending = false
        delete(state.retention.append(.init(uri: uri, bytes: size, duration: segment.duration), as: entry))
        writePlaylist(&state, segmentPublished: true)
        if !state.announcedPlayable, Self.isPlayable(state), state.retention.files.count >= Self.minimumPlayableSegments,
           state.video != nil || state.audio != nil {
            // The playback URL answers 200 from now on: the hub may call the stream active.
            state.announcedPlayable = true
            onPlayable()
        }
    }

    /// EXT-X-PROGRAM-DATE-TIME of media starting at `dts`: one wall-clock anchor plus media time (no
    /// drift between segments), re-anchored at a discontinuity, the anchor put so that media of
    /// `duration` published now ends now.
    private func programDateTime(of dts: Int64, endingNowAfter duration: Int64, restart: Bool, _ state: inout Pipeline) -> Int64 {
        if restart || state.anchor == nil { state.anchor = (wallClock() - MediaTime.milliseconds(ticks: duration), dts) }
        return state.anchor!.wallMilliseconds + MediaTime.milliseconds(ticks: dts - state.anchor!.dts)
    }

    /// Writes a segment; on a full file system, drops the oldest segments (those that left the
    /// playlist first, then the playlist's oldest) until it fits or nothing is left to drop.
    private func writeWithRetry(_ uri: String, _ bytes: ByteBuffer, _ state: inout Pipeline) throws {
        var dropped = 0
        defer {
            if dropped > 0 {
                meters.droppedForSpace.increment(by: dropped)
                logger.error("disk full: dropped old segments", metadata: ["dropped": "\(dropped)", "stream_bytes": "\(state.retention.bytes)"])
            }
        }
        while true {
            do {
                return try files.write(uri, bytes)
            } catch let failure as SegmentFiles.Failure where failure.isOutOfSpace {
                guard let oldest = state.retention.dropOldest() else { throw failure }
                delete([oldest])
                dropped += 1
            }
        }
    }

    private func delete(_ gone: [SegmentRetention.File]) {
        for file in gone {
            files.remove(file.uri)
            budget.add(-file.bytes)
        }
    }

    /// Writes the playlist, then lets readers see it (and the segments it lists, already on disk).
    private func writePlaylist(_ state: inout Pipeline, segmentPublished: Bool = false) {
        var playlist = state.retention.window.playlist
        if settings.format == .cmaf { playlist.version = 6 }
        var delta: ByteBuffer?
        var keepPartsFrom = 0
        if var control = serverControl {
            // Six target durations, as the spec's minimum; TARGETDURATION only grows past the
            // configured one when keyframes come further apart than it.
            control.canSkipUntil = 6 * playlist.targetDuration
            playlist.serverControl = control
            if !state.ended {
                playlist.openSegment = state.openSegment
                playlist.preloadHint = partURI(state.nextPart)
            }
            // Parts are listed for the last three target durations, and none once the stream has
            // ended (their bytes leave memory with the packager).
            let threeTargets = 3 * Int64(playlist.targetDuration) * MediaTime.timescale
            playlist = playlist.listingParts(within: state.ended ? 0 : threeTargets)
            delta = playlist.delta().map { ByteBuffer(string: $0.render()) }
            // Parts stay in memory while listed and for three target durations after (§6.2.2).
            let oldest = (playlist.segments.first { !$0.parts.isEmpty }?.parts.first ?? playlist.openSegment?.parts.first)
                .flatMap { partIndex($0.uri) } ?? state.nextPart
            keepPartsFrom = state.ended ? state.nextPart : oldest - Int((threeTargets + control.partTarget - 1) / control.partTarget)
        }
        let bytes = ByteBuffer(string: playlist.render())
        do {
            try files.write("index.m3u8", bytes)
        } catch {
            logger.error("cannot write playlist", metadata: ["error": "\(error)"])
        }
        let playable = Self.isPlayable(state), variant = Self.variant(state), ended = state.ended
        let playlistStart = state.retention.window.removedDuration
        published.withLock { published in
            published.playlist = playlist
            published.playlistStart = playlistStart
            published.playlistBytes = bytes
            published.playable = playable
            published.variant = variant
            published.ended = ended
            published.deltaBytes = delta
            while published.partsKeptFrom < keepPartsFrom {
                published.parts[published.partsKeptFrom] = nil
                published.partsKeptFrom += 1
            }
            published.version += 1
            published.gzipped = nil
            published.gzippedDelta = nil
            if segmentPublished { published.lastSegmentAt = NIODeadline.now() }
        }
    }

    deinit {
        let bytes = pipeline.withLock { $0.retention.bytes }
        budget.add(-bytes)
    }
}
