import Logging
import Metrics
import ServiceLifecycle
import Synchronization

/// The lifecycle events' first consumers: a journal line per event, `onair_lifecycle_events_total`,
/// the count of active streams for STATUS=, and playback's ID cache dropped on every change (the
/// CLI's too). Runs until the hub has published its last event.
final class LifecycleMonitor: Service, Sendable {
    private let events: AsyncStream<LifecycleEvent>
    private let playbackIDs: PlaybackDirectory
    private let logger: Logger
    private let active = Mutex<Set<String>>([])

    init(events: AsyncStream<LifecycleEvent>, playbackIDs: PlaybackDirectory, logger: Logger) {
        self.events = events
        self.playbackIDs = playbackIDs
        self.logger = logger
    }

    /// Streams whose status is active.
    var activeCount: Int { active.withLock { $0.count } }

    func run() async {
        for await event in events { observe(event) }
        // The hub has stopped; finishing before the group asks would read as a failure.
        try? await gracefulShutdown()
    }

    func observe(_ event: LifecycleEvent) {
        Counter(label: Self.metric, dimensions: [("type", event.type.rawValue)]).increment()
        active.withLock { streams in
            if event.stream.status == .active && event.type != .deleted { streams.insert(event.stream.id) } else { streams.remove(event.stream.id) }
        }
        switch event.type {
        case .created, .updated, .deleted, .disabled, .enabled: playbackIDs.invalidate()
        case .connected, .recording, .active, .disconnected, .idle: break
        }
        logger.info("live stream \(event.type.rawValue.split(separator: ".").last ?? "")", metadata: [
            "event": "\(event.type.rawValue)", "live_stream_id": "\(event.stream.id)", "status": "\(event.stream.status.rawValue)",
        ])
    }

    static let metric = "onair_lifecycle_events_total"
}
