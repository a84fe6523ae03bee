import Foundation
import Logging
import Media
import Metrics
import NIOCore
import NIOPosix
import ServiceLifecycle
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Records the broadcasts of streams with `new_asset_settings` into assets, as Mux runs them
/// (reference/mux-api.md §5.4): the asset is made when the broadcast starts (`video.asset.created`),
/// is `ready` once it has three segments (or is final), grows while live (`is_live`), and is
/// completed when the broadcast ends (`video.asset.live_stream_completed`: a VOD playlist).
///
/// The packagers only queue segments here (``AssetRecording``); this service's loop writes them, one
/// job at a time, on NIO's thread pool, and records the asset's progress in the database at most
/// every ``saveEvery`` (and at every change of status). A recording that would pass
/// `recordings.max_bytes` or the free-space floor, whose queue outgrows `max_queued_bytes` (a disk
/// slower than the broadcasts), or whose disk fails, stops with `video.asset.warning`, a log line and
/// a metric; the live stream goes on, and nothing recorded is ever deleted behind the user's back.
///
/// A crash leaves an asset live: when its stream publishes again within the reconnect window, the
/// recording continues it (after a discontinuity); otherwise the loop's sweep completes it with what
/// was written before the crash.
final class Recorder: SegmentRecorderFactory, Service {
    enum Job: Sendable {
        case segment(AssetRecording, RecordedSegment)
        case sessionEnded(AssetRecording)
        case finish(AssetRecording)
        /// A recording's queue overflowed: what was queued before is written, then it stops here.
        case stopped(AssetRecording, type: String, reason: String)
        /// A deleted asset's files go, after the writes queued for it (which are dropped).
        case remove(String, @Sendable () -> Void)
        case sweep
    }

    private struct State {
        /// Recordings in progress (and interrupted assets being resumed or completed), by asset.
        var recordings: [String: AssetRecording] = [:]
        var claimed: Set<String> = []
        var queuedBytes: Int64 = 0
        /// Bytes every asset holds (nil until read from the database).
        var bytesOnDisk: Int64?
    }

    let assets: AssetStore
    let streams: LiveStreamStore
    let events: any AssetEventSink
    let logger: Logger
    /// `recordings.directory` when the appliance was built: the assets' files are found there (a
    /// reload that changes it is logged and takes effect at the next start).
    let root: String
    private let currentSettings: Mutex<RecordingSettings>
    private let state = Mutex(State())
    private let jobs: AsyncStream<Job>
    private let continuation: AsyncStream<Job>.Continuation
    /// Assets whose static renditions are to be built, one at a time, beside the recordings' loop.
    private let builds: AsyncStream<String>
    private let buildContinuation: AsyncStream<String>.Continuation
    private let wallClock: @Sendable () -> Int64
    private let stopped: Counter
    /// How often the database learns a live asset's growing duration.
    static let saveEvery = Duration.seconds(5)
    /// How often interrupted assets are looked for (they complete this long after their window at most).
    static let sweepEvery = Duration.seconds(5)

    init(assets: AssetStore, streams: LiveStreamStore, events: any AssetEventSink, settings: RecordingSettings, logger: Logger,
         wallClock: @escaping @Sendable () -> Int64 = { Int64((Date().timeIntervalSince1970 * 1000).rounded()) }) {
        self.assets = assets
        self.streams = streams
        self.events = events
        self.logger = logger
        self.currentSettings = Mutex(settings)
        self.root = settings.directory
        self.wallClock = wallClock
        (jobs, continuation) = AsyncStream.makeStream(of: Job.self)
        (builds, buildContinuation) = AsyncStream.makeStream(of: String.self)
        stopped = Counter(label: Self.stoppedMetric)
    }

    static let stoppedMetric = "onair_recordings_stopped_total"
    static let writtenMetric = "onair_recording_bytes_written_total"

    /// Settings for what is written from now on (a reload changes the limits, not the directory).
    var settings: RecordingSettings {
        get { currentSettings.withLock { $0 } }
        set {
            if newValue.directory != root {
                logger.warning("recordings.directory changed: it takes effect at the next start", metadata: [
                    "directory": "\(root)", "configured": "\(newValue.directory)"])
            }
            currentSettings.withLock { $0 = newValue }
        }
    }

    /// Where an asset's files are.
    func directory(of assetID: String) -> String { root + "/" + assetID }

    /// The recording in progress of an asset (for its EVENT playlist), nil when there is none.
    func recording(of assetID: String) -> AssetRecording? { state.withLock { $0.recordings[assetID] } }

    // MARK: Starting a recording (SegmentRecorderFactory)

    func makeRecorder(for stream: LiveStream, format: SegmentFormat, segmentDuration: Double) async -> (any SegmentRecorder)? {
        guard let text = stream.newAssetSettings else { return nil }
        if let resumed = await resume(stream, format: format) { return resumed }
        let id = Identifier.opaque()
        let asset = AssetSettings(json: text).asset(id: id, liveStreamID: stream.id, format: format.rawValue, now: Date()) { Identifier.opaque() }
        let recording = AssetRecording(assetID: id, liveStreamID: stream.id, directory: directory(of: id), format: format,
                                       targetDuration: max(1, Int(segmentDuration.rounded(.up))), recorder: self) { Identifier.opaque() }
        state.withLock { $0.recordings[id] = recording }
        do {
            try await BlockingWork.run { try recording.writePlaylist() }
            try await assets.create(asset)
        } catch {
            state.withLock { _ = $0.recordings.removeValue(forKey: id) }
            _ = recording.close()
            let path = directory(of: id)
            await BlockingWork.run { try? FileManager.default.removeItem(atPath: path) }
            logger.error("cannot start recording: the broadcast goes on without an asset", metadata: [
                "live_stream_id": "\(stream.id)", "error": "\(error)"])
            stopped.increment()
            return nil
        }
        logger.info("recording started", metadata: ["asset_id": "\(id)", "live_stream_id": "\(stream.id)", "format": "\(format.rawValue)"])
        await events.publish(AssetEvent(type: .created, asset: asset))
        for rendition in asset.staticRenditions {
            await events.publish(AssetEvent(type: .staticRenditionCreated, asset: asset, rendition: rendition))
        }
        return recording
    }

    /// The stream's asset left live by a crash, when its playlist was written within the stream's
    /// reconnect window: the recording continues it. Older ones are left to the sweep, which completes them.
    private func resume(_ stream: LiveStream, format: SegmentFormat) async -> AssetRecording? {
        let interrupted = ((try? await assets.liveAssets()) ?? []).filter { $0.liveStreamID == stream.id && $0.format == format.rawValue }
        for asset in interrupted {
            guard let age = await age(of: asset), age <= stream.reconnectWindow, claim(asset.id) else { continue }
            if let recording = await reopen(asset) {
                logger.notice("continuing an interrupted recording", metadata: [
                    "asset_id": "\(asset.id)", "live_stream_id": "\(stream.id)", "segments": "\(recording.state.playlist.segments.count)"])
                return recording
            }
            state.withLock { _ = $0.claimed.remove(asset.id) }
        }
        return nil
    }

    /// Seconds since an asset's playlist was last written; nil when the clock stepped back past it
    /// (the age cannot be known: such an asset is neither resumed nor completed by age alone).
    private func age(of asset: Asset) async -> Double? {
        let files = SegmentFiles(directory: directory(of: asset.id))
        let written = await BlockingWork.run { files.modificationTime("index.m3u8") } ?? 0
        let age = Double(wallClock() - written) / 1000
        return age >= 0 ? age : nil
    }

    /// An ``AssetRecording`` over what an interrupted asset's files hold (registered as in progress);
    /// the playlist file is rewritten from what was recovered, so appends follow whole lines.
    private func reopen(_ asset: Asset) async -> AssetRecording? {
        let files = SegmentFiles(directory: directory(of: asset.id))
        let recovered = await BlockingWork.run { AssetRecording.recover(files) }
        guard let format = SegmentFormat(rawValue: asset.format) else { return nil }
        let recording = AssetRecording(assetID: asset.id, liveStreamID: asset.liveStreamID, directory: files.directory, format: format,
                                       targetDuration: recovered?.playlist.targetDuration ?? 2, resuming: recovered?.playlist,
                                       bytes: recovered?.bytes ?? 0, asset: asset, recorder: self) { Identifier.opaque() }
        do {
            try await BlockingWork.run { try recording.writePlaylist() }
        } catch {
            logger.error("cannot rewrite an interrupted recording's playlist", metadata: ["asset_id": "\(asset.id)", "error": "\(error)"])
        }
        state.withLock { state in
            state.recordings[asset.id] = recording
            state.claimed.remove(asset.id)
        }
        return recording
    }

    /// Claims an asset not being recorded, for resuming or completing it; false when it is taken.
    private func claim(_ id: String) -> Bool {
        state.withLock { state in
            guard state.recordings[id] == nil, !state.claimed.contains(id) else { return false }
            state.claimed.insert(id)
            return true
        }
    }

    /// Completes an interrupted asset with what its files hold.
    private func complete(_ asset: Asset) async {
        if let recording = await reopen(asset) {
            _ = recording.close()
            await finish(recording)
        } else {
            state.withLock { _ = $0.claimed.remove(asset.id) }
        }
    }

    // MARK: The queue

    /// Queues a job (the packagers' side: never waits). Past `max_queued_bytes` the segment is not
    /// queued and its recording stops.
    func enqueue(_ job: Job, bytes: Int) {
        let limit = settings.maxQueuedBytes
        let accepted = state.withLock { state -> Bool in
            guard state.queuedBytes + Int64(bytes) <= limit || bytes == 0 else { return false }
            state.queuedBytes += Int64(bytes)
            return true
        }
        if accepted {
            continuation.yield(job)
        } else if case .segment(let recording, _) = job {
            // What was queued before still goes to disk; the recording stops after it.
            recording.stopAccepting()
            continuation.yield(.stopped(recording, type: "recording_queue_full",
                                        reason: "the disk cannot keep up: more than \(limit) bytes of segments were waiting to be written"))
        }
    }

    /// Marks a recording stopped, logs and counts it; false when it had stopped already.
    private func stop(_ recording: AssetRecording, _ reason: String) -> Bool {
        guard recording.stop(reason) else { return false }
        stopped.increment()
        logger.error("recording stopped; the live stream goes on", metadata: [
            "asset_id": "\(recording.assetID)", "live_stream_id": "\(recording.liveStreamID)", "reason": "\(reason)"])
        return true
    }

    /// Stops a recording from the loop, with its `video.asset.warning`.
    private func stopAndWarn(_ recording: AssetRecording, _ reason: String, type: String) async {
        if stop(recording, reason) { await warn(recording, type: type, reason: reason) }
    }

    // MARK: Service

    func run() async throws {
        if let total = try? await assets.totalBytes() { state.withLock { $0.bytesOnDisk = total } }
        // Renditions a stop or a crash left unbuilt.
        for asset in (try? await assets.assets(limit: -1)) ?? [] where !asset.isLive && asset.staticRenditions.contains(where: { $0.status == .preparing }) {
            buildRenditions(of: asset.id)
        }
        await withDiscardingTaskGroup { group in
            group.addTask { [self] in
                for await id in builds { await buildPending(id) }
            }
            group.addTask { [continuation] in
                // The sweep's clock; ends with the loop.
                while !Task.isCancelled {
                    try? await Task.sleep(for: Self.sweepEvery)
                    continuation.yield(.sweep)
                }
            }
            await withGracefulShutdownHandler {
                for await job in jobs {
                    await handle(job)
                }
            } onGracefulShutdown: { [self] in
                // Services stop in reverse order: the hub has ended every broadcast, so the queue is
                // complete. A rendition being built is finished; those queued are built at the next start.
                stopping.withLock { $0 = true }
                continuation.finish()
                buildContinuation.finish()
            }
            group.cancelAll()
        }
    }

    private func handle(_ job: Job) async {
        switch job {
        case .segment(let recording, let segment):
            defer { state.withLock { $0.queuedBytes -= Int64(segment.bytes.readableBytes) } }
            await write(segment, recording)
        case .sessionEnded(let recording):
            recording.update { $0.stretchOpen = false; $0.pendingDiscontinuity = true }
        case .finish(let recording):
            await finish(recording)
        case .stopped(let recording, let type, let reason):
            await stopAndWarn(recording, reason, type: type)
        case .remove(let id, let done):
            let path = directory(of: id)
            await BlockingWork.run { try? FileManager.default.removeItem(atPath: path) }
            done()
        case .sweep:
            await sweep()
        }
    }

    private func write(_ segment: RecordedSegment, _ recording: AssetRecording) async {
        guard recording.stopped == nil, !isDeleted(recording) else { return }
        let settings = self.settings
        let size = Int64(segment.bytes.readableBytes + (segment.initialization?.readableBytes ?? 0))
        if let used = state.withLock({ $0.bytesOnDisk }), used + size > settings.maxBytes {
            return await stopAndWarn(recording, "recordings.max_bytes (\(settings.maxBytes) bytes) reached", type: "recording_limit_reached")
        }
        let free = await BlockingWork.run { [root] in Self.freeBytes(root) }
        if let free, free - size < settings.minFreeBytes {
            return await stopAndWarn(recording, "the disk's free space would fall below recordings.min_free_bytes (\(settings.minFreeBytes) bytes)",
                                     type: "recording_disk_full")
        }
        do {
            let added = try await BlockingWork.run { try recording.write(segment) }
            state.withLock { $0.bytesOnDisk = ($0.bytesOnDisk ?? 0) + added }
            Counter(label: Self.writtenMetric).increment(by: Int(added))
        } catch {
            let full = (error as? SegmentFiles.Failure)?.isOutOfSpace ?? false
            return await stopAndWarn(recording, full ? "the disk is full" : "cannot write the recording: \(error)",
                                     type: full ? "recording_disk_full" : "recording_write_failed")
        }
        let progress = recording.state
        let becomesReady = !progress.ready && progress.playlist.segments.count >= StreamPackager.minimumPlayableSegments
        let due = progress.savedAt.map { ContinuousClock.now - $0 >= Self.saveEvery } ?? true
        guard becomesReady || due else { return }
        recording.update {
            $0.savedAt = .now
            if becomesReady { $0.ready = true }
        }
        let saved = try? await assets.update(id: recording.assetID) { asset in
            recording.describe(&asset)
            if becomesReady { asset.status = .ready }
        }
        if becomesReady, let saved {
            logger.info("recording playable", metadata: ["asset_id": "\(saved.id)", "live_stream_id": "\(saved.liveStreamID)"])
            await events.publish(AssetEvent(type: .ready, asset: saved))
        }
    }

    /// The broadcast is over: the playlist becomes VOD, the asset final.
    private func finish(_ recording: AssetRecording) async {
        _ = recording.close()
        defer { state.withLock { _ = $0.recordings.removeValue(forKey: recording.assetID) } }
        guard !isDeleted(recording) else { return }
        let progress = recording.state
        let hasMedia = !progress.playlist.segments.isEmpty
        do {
            if hasMedia { try await BlockingWork.run { try recording.writeFinal() } }
        } catch {
            logger.error("cannot write the recording's final playlist", metadata: ["asset_id": "\(recording.assetID)", "error": "\(error)"])
        }
        let wasReady = progress.ready
        let warning = recording.stopped
        guard let asset = try? await assets.update(id: recording.assetID, { asset in
            recording.describe(&asset)
            asset.isLive = false
            asset.status = hasMedia ? .ready : .errored
            asset.warning = warning
        }) else {
            logger.error("cannot complete the asset in the database", metadata: ["asset_id": "\(recording.assetID)"])
            return
        }
        logger.info("recording complete", metadata: [
            "asset_id": "\(asset.id)", "live_stream_id": "\(asset.liveStreamID)", "duration": "\(asset.duration ?? 0)",
            "bytes": "\(asset.bytes)", "status": "\(asset.status.rawValue)"])
        if hasMedia && !wasReady { await events.publish(AssetEvent(type: .ready, asset: asset)) }
        if !hasMedia { await events.publish(AssetEvent(type: .errored, asset: asset)) }
        await events.publish(AssetEvent(type: .liveStreamCompleted, asset: asset))
        if asset.staticRenditions.contains(where: { $0.status == .preparing }) { buildRenditions(of: asset.id) }
    }

    // MARK: Static renditions

    /// Queues the asset's renditions that are preparing (it must not be live).
    func buildRenditions(of assetID: String) {
        buildContinuation.yield(assetID)
    }

    /// Builds each preparing rendition of a completed asset, within the disk limits.
    private func buildPending(_ id: String) async {
        guard !stopping.withLock({ $0 }), let asset = try? await assets.asset(id: id), !asset.isLive else { return }
        let files = SegmentFiles(directory: directory(of: id))
        for rendition in asset.staticRenditions where rendition.status == .preparing {
            guard !stopping.withLock({ $0 }) else { return }  // built at the next start
            if rendition.name == .audio, !asset.tracks.isEmpty, !asset.tracks.contains(where: { $0.type == .audio }) {
                // Mux: an audio rendition of a recording without audio is skipped.
                if let updated = try? await assets.update(id: id, { asset in
                    if let index = asset.staticRenditions.firstIndex(where: { $0.id == rendition.id }) { asset.staticRenditions[index].status = .skipped }
                }), let now = updated.staticRenditions.first(where: { $0.id == rendition.id }) {
                    await events.publish(AssetEvent(type: .staticRenditionSkipped, asset: updated, rendition: now))
                }
                continue
            }
            let settings = self.settings
            let used = state.withLock { $0.bytesOnDisk } ?? 0
            let free = await BlockingWork.run { [root] in Self.freeBytes(root) }
            let result: Result<RenditionBuilder.Built, any Error>
            if used + asset.bytes > settings.maxBytes {
                result = .failure(RenditionBuilder.Failure.noRoom("recordings.max_bytes (\(settings.maxBytes) bytes) would be passed"))
            } else if let free, free - asset.bytes < settings.minFreeBytes {
                result = .failure(RenditionBuilder.Failure.noRoom("the disk's free space would fall below recordings.min_free_bytes"))
            } else {
                let started = ContinuousClock.now
                result = await BlockingWork.run {
                    Result {
                        guard let bytes = files.read("index.m3u8") else { throw RenditionBuilder.Failure.unreadable("index.m3u8 is missing") }
                        let playlist = try MediaPlaylist(parsing: String(buffer: bytes))
                        return try RenditionBuilder.build(rendition.name, files: files, playlist: playlist,
                                                          format: SegmentFormat(rawValue: asset.format) ?? .mpegts)
                    }
                }
                if case .success(let built) = result {
                    logger.info("static rendition ready", metadata: [
                        "asset_id": "\(id)", "rendition": "\(rendition.name.rawValue)", "bytes": "\(built.fileSize)",
                        "duration": "\(built.duration)", "took": "\(ContinuousClock.now - started)"])
                }
            }
            if case .failure(let error) = result, !deleted.withLock({ $0.contains(id) }) {
                logger.error("static rendition failed", metadata: ["asset_id": "\(id)", "rendition": "\(rendition.name.rawValue)", "error": "\(error)"])
            }
            let built = try? result.get()
            let updated = try? await assets.update(id: id) { asset in
                guard let index = asset.staticRenditions.firstIndex(where: { $0.id == rendition.id }) else { return }
                if let built {
                    asset.staticRenditions[index].status = .ready
                    asset.staticRenditions[index].fileSize = built.fileSize
                    asset.staticRenditions[index].width = built.width
                    asset.staticRenditions[index].height = built.height
                    asset.staticRenditions[index].bitrate = built.bitrate
                    asset.bytes += built.fileSize
                } else {
                    asset.staticRenditions[index].status = .errored
                }
            }
            guard let updated, let now = updated.staticRenditions.first(where: { $0.id == rendition.id }) else {
                // Deleted meanwhile (the rendition or its asset): nothing of it stays.
                if built != nil { await BlockingWork.run { files.remove(rendition.name.rawValue) } }
                continue
            }
            if let built { state.withLock { $0.bytesOnDisk = ($0.bytesOnDisk ?? 0) + built.fileSize } }
            await events.publish(AssetEvent(type: built != nil ? .staticRenditionReady : .staticRenditionErrored, asset: updated, rendition: now))
        }
    }

    /// Interrupted assets (live in the database, recorded by nobody) whose stream's reconnect window
    /// has passed since their last write are completed.
    /// The byte count is taken again from the database and the recordings in progress, so nothing a
    /// race between a delete and a write added or took away stays wrong for long.
    private func sweep() async {
        let recording = state.withLock { $0.recordings }
        if let stored = try? await assets.totalBytes(excluding: Array(recording.keys)) {
            let live = recording.values.reduce(Int64(0)) { $0 + $1.state.bytes }
            state.withLock { $0.bytesOnDisk = stored + live }
        }
        guard let live = try? await assets.liveAssets() else { return }
        for asset in live where state.withLock({ $0.recordings[asset.id] == nil && !$0.claimed.contains(asset.id) }) {
            let window = (try? await streams.liveStream(id: asset.liveStreamID))?.reconnectWindow ?? 0
            // A clock that stepped back behind the last write: the window is taken to have passed.
            let age = await self.age(of: asset) ?? .infinity
            guard age > window, claim(asset.id) else { continue }
            logger.notice("completing a recording a restart interrupted", metadata: ["asset_id": "\(asset.id)"])
            await complete(asset)
        }
    }

    private func warn(_ recording: AssetRecording, type: String, reason: String) async {
        guard !isDeleted(recording), let asset = try? await assets.update(id: recording.assetID, { asset in
            recording.describe(&asset)
            asset.warning = reason
        }) else { return }
        await events.publish(AssetEvent(type: .warning, asset: asset, warning: (type, reason)))
    }

    // MARK: Deleting

    /// The asset was deleted: its recording (if any) stops at once and its files go.
    ///
    /// The files go in the loop, after the writes queued for the asset (dropped as it is deleted), so
    /// none lands in a directory being removed; returns once they are gone.
    func removed(_ asset: Asset) async {
        deleted.withLock { _ = $0.insert(asset.id) }
        let recording = state.withLock { $0.recordings.removeValue(forKey: asset.id) }
        _ = recording?.close()
        let bytes = recording?.state.bytes ?? asset.bytes
        await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
            if case .terminated = continuation.yield(.remove(asset.id, { done.resume() })) {
                done.resume()  // the loop has ended (shutting down): the files stay for a later delete
            }
        }
        state.withLock { $0.bytesOnDisk = max(0, ($0.bytesOnDisk ?? 0) - bytes) }
    }

    private let deleted = Mutex<Set<String>>([])
    /// Shutting down: no more renditions are started.
    private let stopping = Mutex(false)

    /// Removes some files of an asset (deleted renditions) that held `bytes`.
    func removeFiles(_ names: [String], of assetID: String, bytes: Int64) async {
        let files = SegmentFiles(directory: directory(of: assetID))
        await BlockingWork.run { for name in names { files.remove(name) } }
        state.withLock { $0.bytesOnDisk = max(0, ($0.bytesOnDisk ?? 0) - bytes) }
    }

    private func isDeleted(_ recording: AssetRecording) -> Bool { deleted.withLock { $0.contains(recording.assetID) } }

    // MARK: Helpers

    /// Free bytes for unprivileged users on the file system of `path` (nil when it cannot be asked).
    static func freeBytes(_ path: String) -> Int64? {
        var info = statvfs()
        guard statvfs(path, &info) == 0 else { return nil }
        return Int64(info.f_bavail) * Int64(info.f_frsize)
    }

}
