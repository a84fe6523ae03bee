import Foundation
import Logging
import Synchronization

/// Makes a ``StreamPackager`` per broadcast under `hls.directory` and keeps the live ones findable
/// for playback. The stream's latency mode, as it is when the broadcast starts, picks the packaging:
///
/// | latency_mode | segments                       | parts                                   |
/// |--------------|--------------------------------|-----------------------------------------|
/// | standard     | MPEG-TS, `hls.segment_duration` | none                                    |
/// | reduced      | CMAF, at most 1 s              | none                                    |
/// | low          | CMAF, at most 2 s              | `hls.part_duration` (0.334 s): LL-HLS   |
///
/// Low: 0.334 s parts are 10 frames at 30 fps (8 at 25, 20 at 60); PART-TARGET 0.336 s (2 ms for RTMP's
/// millisecond timestamps) makes PART-HOLD-BACK 1.008 s, near Apple's example; 2 s segments (TARGETDURATION 2) match a 2 s keyframe interval, keep CAN-SKIP-UNTIL
/// at 12 s, and put players without LL support (3 target durations back) 6–8 s behind.
final class PackagerFactory: StreamOutputFactory {
    let root: String
    private let currentSettings: Mutex<PackagerSettings>
    let budget: HLSBudget
    let logger: Logger
    let wallClock: @Sendable () -> Int64
    private let live = Mutex<[String: StreamPackager]>([:])
    /// Requests held (blocking reloads, hinted parts) over all streams.
    let holdLimit: HoldLimit
    /// Starts the recordings of streams with `new_asset_settings`.
    let recorders: (any SegmentRecorderFactory)?

    init(root: String, settings: PackagerSettings, budget: HLSBudget, logger: Logger, maxHeldRequests: Int = 10_000,
         recorders: (any SegmentRecorderFactory)? = nil, wallClock: @escaping @Sendable () -> Int64) {
        self.root = root
        self.recorders = recorders
        self.holdLimit = HoldLimit(limit: maxHeldRequests)
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

    func makeOutput(for stream: LiveStream, onPlayable: @escaping @Sendable () -> Void) async -> any StreamOutput {
        let settings = Self.settings(settings, for: stream.latencyMode)
        let recorder = await recorders?.makeRecorder(for: stream, format: settings.format, segmentDuration: settings.segmentDuration)
        let make: @Sendable () -> StreamPackager = { [self] in
            StreamPackager(liveStreamID: stream.id, directory: directory(of: stream.id), settings: settings,
                           budget: budget, wallClock: wallClock, logger: logger,
                           resumeWithin: stream.reconnectWindow, holdLimit: holdLimit, recorder: recorder, onEnd: { [weak self] id in
                self?.live.withLock { _ = $0.removeValue(forKey: id) }
            }, onPlayable: onPlayable)
        }
        // The packager prepares its directory (file system calls): on NIO's thread pool, not the concurrency pool.
        let packager = await BlockingWork.run(make)
        live.withLock { $0[stream.id] = packager }
        return packager
    }

    /// The packaging of a latency mode (the table above).
    static func settings(_ base: PackagerSettings, for mode: LiveStream.LatencyMode) -> PackagerSettings {
        var settings = base
        switch mode {
        case .standard:
            settings.format = .mpegts
            settings.partDuration = nil
        case .reduced:
            settings.format = .cmaf
            settings.segmentDuration = min(settings.segmentDuration, 1)
            settings.partDuration = nil
        case .low:
            settings.format = .cmaf
            settings.segmentDuration = min(settings.segmentDuration, 2)
            settings.partDuration = min(settings.partDuration ?? 0.334, settings.segmentDuration)
        }
        return settings
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
