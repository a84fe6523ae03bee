import Foundation
import Logging
import Synchronization

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
