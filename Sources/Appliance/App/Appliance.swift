import Foundation
import Logging
import Metrics
import NIOCore
import NIOPosix
import ServiceLifecycle
import Synchronization

/// The composition root: builds store, hub, packagers, listeners and the systemd supervisor.
///
/// Start-up order: database migrated, RTMP bound (here), HTTP servers bound (in the service group);
/// READY=1 goes out when the last listener is up. Services run in the order of `services` and stop
/// in reverse: the supervisor first (STOPPING=1), then HTTP, then ingest (playlists end, publishers close).
struct Appliance: Sendable {
    let store: LiveStreamStore
    let hub: StreamHub
    let rtmp: RTMPServer
    let services: [any Service]
    let logger: Logger

    static func start(config: Config, configPath: String, logger: Logger) async throws -> Appliance {
        let started = ContinuousClock.now
        let notifier = SystemdNotifier()
        let metrics = MetricsRegistry.bootstrap()
        let store = try LiveStreamStore(path: config.storage.database)
        try store.resetActiveStreams()
        let budget = HLSBudget(limit: config.hls.maxBytes)
        let packagers = PackagerFactory(root: config.hls.directory, settings: PackagerSettings(config.hls), budget: budget,
                                        logger: logger, wallClock: { Int64((Date().timeIntervalSince1970 * 1000).rounded()) })
        let hub = StreamHub(directory: store, outputs: packagers, takeoverAfter: config.rtmp.takeoverAfter,
                            maxPublishers: config.rtmp.maxPublishers, maxContinuousDuration: config.rtmp.maxContinuousDuration,
                            logger: logger)
        let tokens = AccessTokens(config.accessTokens)
        let tls = try TLSContexts(try HTTPServers.tlsConfiguration(config.http))
        let playbackRequests = RequestCounter()

        let status: @Sendable () async -> String = {
            let publishing = await hub.publishingCount
            Gauge(label: MetricsRegistry.activePublishers).record(publishing)
            Gauge(label: MetricsRegistry.hlsBytes).record(budget.bytesUsed)
            return "\(publishing) streams live, \(playbackRequests.sinceLastRead()) playback requests since last status, "
                + "\(JournalLogHandler.errors.count) errors"
        }
        let listeners = config.http.plainListen == nil ? 1 : 2
        let readiness = Readiness(waitingFor: listeners) {
            let elapsed = ContinuousClock.now - started
            logger.notice("onair ready", metadata: [
                "startup": "\(elapsed)", "https": "\(config.http.listen)",
                "http": "\(config.http.plainListen.map { "\($0)" } ?? "off")",
                "hls": "\(config.hls.directory)", "database": "\(config.storage.database)",
            ])
            notifier.ready(status: await status())
            let released = StartupMemory.release()
            logger.debug("start-up memory released", metadata: ["text": "\(released / 1024) KiB unmapped"])
        }
        let http = HTTPServers.make(config: config.http, .init(
            store: store, hub: hub, packagers: packagers, tokens: tokens, tls: tls, metrics: metrics,
            playbackRequests: playbackRequests, logger: logger, onRunning: { await readiness.listenerUp() }))
        let rtmp = try await RTMPServer.start(config: config.rtmp, hub: hub, group: MultiThreadedEventLoopGroup.singleton, logger: logger)
        logger.info("RTMP listening", metadata: ["rtmp": "\(rtmp.localAddress?.endpoint ?? "?")"])

        let stallLimit = TimeAmount.seconds(max(30, Int64(config.hls.segmentDuration * 10)))
        let health = HealthCheck(eventLoops: MultiThreadedEventLoopGroup.singleton, deadline: .seconds(1), probes: [
            { _ = await hub.publishingCount; return true },
            { packagers.livePackagers.allSatisfy { !$0.isStalled(now: .now(), limit: stallLimit) } },
        ])
        let reloader = Reloader(path: configPath, notifier: notifier, logger: logger, status: status) { next in
            tokens.replace(with: next.accessTokens)
            try tls.replace(with: try HTTPServers.tlsConfiguration(next.http))
            packagers.settings = PackagerSettings(next.hls)
            budget.limit = next.hls.maxBytes
        }
        let supervisor = Supervisor(notifier: notifier, health: health, status: status, logger: logger)
        FaultInjection.armFromEnvironment(logger: logger)
        return Appliance(store: store, hub: hub, rtmp: rtmp,
                         services: [Ingest(rtmp: rtmp, hub: hub, logger: logger)] + http + [reloader, supervisor],
                         logger: logger)
    }

    /// Stops ingest: no new connections, every broadcast ends (ENDLIST), publishers are closed.
    func stopIngest() async {
        await Ingest(rtmp: rtmp, hub: hub, logger: logger).stop()
    }

    /// The RTMP side as a service: runs until graceful shutdown, then stops ingest.
    struct Ingest: Service {
        let rtmp: RTMPServer
        let hub: StreamHub
        let logger: Logger

        func run() async throws {
            try? await gracefulShutdown()
            logger.notice("stopping ingest")
            await stop()
        }

        func stop() async {
            await rtmp.close()
            await hub.endAll()
        }
    }
}

extension PackagerSettings {
    init(_ hls: Config.HLS) {
        self.init(segmentDuration: hls.segmentDuration, playlistLength: hls.playlistLength,
                  deleteGraceSegments: hls.deleteGraceSegments, maxBytesPerStream: hls.maxBytesPerStream)
    }
}

/// Counts listeners coming up and runs `whenReady` once, when the last one is listening.
final class Readiness: Sendable {
    private let waiting: Mutex<Int>
    private let whenReady: @Sendable () async -> Void

    init(waitingFor listeners: Int, whenReady: @escaping @Sendable () async -> Void) {
        waiting = Mutex(listeners)
        self.whenReady = whenReady
    }

    func listenerUp() async {
        let remaining = waiting.withLock { count -> Int in
            count -= 1
            return count
        }
        if remaining == 0 { await whenReady() }
    }
}

extension LiveStreamStore: StreamDirectory {}
