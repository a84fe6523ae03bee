import Foundation
import Logging
import Metrics
import NIOCore
import NIOPosix
import Prometheus
import ServiceLifecycle
import UnixSignals
import Synchronization

/// The composition root: builds store, hub, packagers, listeners and the systemd supervisor into the
/// services of one ServiceGroup. Building binds no socket, opens no database and sets no global
/// state (it reads the TLS certificate, to fail early): the hub opens the database in its `run()`,
/// the listeners bind in theirs, `serve` bootstraps metrics. Tests build the same appliance.
///
/// Services start in this order and stop in reverse: the supervisor first (STOPPING=1), then HTTP,
/// the RTMP listener (no new publishers), the hub (every broadcast ends: ENDLIST, idle, publishers
/// closed), the recorder, which writes what is queued and completes the assets, the lifecycle
/// monitor, which drains the final events, and last the webhooks, which give
/// the events of the broadcasts' end one attempt (what is left waits in the outbox). READY=1 goes out when the
/// database is open and every listener is up.
struct Appliance {
    let store: LiveStreamStore
    let hub: StreamHub
    let rtmp: RTMPServer
    let service: LiveStreamService
    let packagers: PackagerFactory
    let recorder: Recorder
    /// The HTTPS router (API, playback, /healthz, /metrics), for tests through HummingbirdTesting.
    let router: HTTPServers.SecureRouter
    let services: [ServiceGroupConfiguration.ServiceConfiguration]

    /// `configPath` is what SIGHUP re-reads (nil: no reloading); `metrics` backs `/metrics`.
    static func build(config: Config, configPath: String?, logger: Logger,
                      metrics: PrometheusCollectorRegistry = PrometheusCollectorRegistry()) throws -> Appliance {
        let started = ContinuousClock.now
        let notifier = SystemdNotifier()
        let store = LiveStreamStore(path: config.storage.database)
        let budget = HLSBudget(limit: config.hls.maxBytes)
        let events = LifecycleEvents(logger: logger)
        let outbox = Outbox(store: store)
        let webhooks = WebhookDispatcher(outbox: outbox, endpoints: config.webhooks.map(WebhookEndpoint.init),
                                         settings: WebhookSettings(config), logger: logger)
        let journal = WebhookJournal(outbox: outbox, dispatcher: webhooks, logger: logger, payload: WebhookJournal.Payload.init)
        let playbackIDs = PlaybackDirectory(store: store)
        let signing = PlaybackSigning(store: SigningKeyStore(store: store))
        let assets = AssetStore(store: store)
        let assetEvents = AssetEventLog(journal: journal, logger: logger) { playbackIDs.invalidate() }
        let recorder = Recorder(assets: assets, streams: store, events: assetEvents, settings: RecordingSettings(config.recordings), logger: logger)
        let packagers = PackagerFactory(root: config.hls.directory, settings: PackagerSettings(config.hls), budget: budget,
                                        logger: logger, maxHeldRequests: config.hls.maxHeldRequests, recorders: recorder,
                                        wallClock: { Int64((Date().timeIntervalSince1970 * 1000).rounded()) })
        let simulcastTLS = try Simulcast.tlsContext(caFile: config.simulcast.caFile)
        let simulcast = Simulcast(packagers: packagers, settings: SimulcastPusher.Settings(config.simulcast), tls: simulcastTLS,
                                  logger: logger) { event in
            let data = LiveStreamJSON.webhookBody(SimulcastTargetJSON(target: event.target, status: event.status, liveStreamID: event.liveStreamID))
            do {
                try await journal.record(type: "video.live_stream.simulcast_target.\(event.kind.rawValue)",
                                         .init(objectType: "simulcast_target", objectID: event.target.id, data: data), at: Date())
            } catch {
                logger.error("cannot record a simulcast event for the webhooks", metadata: [
                    "event": "\(event.kind.rawValue)", "simulcast_target_id": "\(event.target.id)", "error": "\(error)"])
            }
        }
        let assetService = AssetService(assets: assets, recorder: recorder) { playbackIDs.invalidate() }
        let monitor = LifecycleMonitor(events: events.subscribe("monitor"), playbackIDs: playbackIDs, logger: logger)
        let tokens = AccessTokens(config.accessTokens.map(AccessTokens.Credential.init))
        let tls = try TLSContexts(try HTTPServers.tlsConfiguration(config.http))
        let playbackRequests = RequestCounter()
        let images = ImageDecoder(settings: ImageDecoder.Settings(config.images),
                                  directory: NSTemporaryDirectory() + "/onair-images-\(getpid())", logger: logger)
        if !images.isAvailable {
            logger.warning("thumbnails are off: ffmpeg is not installed", metadata: ["ffmpeg": "\(config.images.ffmpeg)"])
        }

        let hubBox = Mutex<StreamHub?>(nil)
        let status: @Sendable () async -> String = {
            let publishing = hubBox.withLock { $0 }?.publishingCount ?? 0
            Gauge(label: MetricsRegistry.activePublishers).record(publishing)
            Gauge(label: MetricsRegistry.hlsBytes).record(budget.bytesUsed)
            let backlog = webhooks.queued
            return "\(publishing) streams publishing, \(monitor.activeCount) active, "
                + "\(playbackRequests.sinceLastRead()) playback requests since last status, \(JournalLogHandler.errors.count) errors"
                + (backlog > 0 ? ", \(backlog) webhook events queued" : "")
        }
        let readiness = Readiness(waitingFor: 3 + (config.http.plainListen == nil ? 1 : 2)) {
            logger.notice("onair ready", metadata: [
                "startup": "\(ContinuousClock.now - started)", "https": "\(config.http.listen)",
                "http": "\(config.http.plainListen.map { "\($0)" } ?? "off")", "metrics": "\(config.metrics.listen)",
                "hls": "\(config.hls.directory)", "database": "\(config.storage.database)",
            ])
            notifier.ready(status: await status())
            let released = StartupMemory.release()
            logger.debug("start-up memory released", metadata: ["text": "\(released / 1024) KiB unmapped"])
        }
        let hub = StreamHub(directory: store, outputs: simulcast, events: events, journal: journal, settings: HubSettings(config.rtmp),
                            logger: logger, onReady: { await readiness.up() })
        hubBox.withLock { $0 = hub }
        let service = LiveStreamService(repository: store, hub: hub) { _ in playbackIDs.invalidate() }
        let rtmp = RTMPServer(settings: IngestSettings(config.rtmp), hub: hub, logger: logger) { _ in await readiness.up() }
        let http = HTTPServers.make(config: config.http, metrics: config.metrics.listen, .init(
            store: store, service: service, packagers: packagers, assets: assets, assetService: assetService,
            playbackIDs: playbackIDs, tokens: tokens, signing: signing, tls: tls,
            images: images, simulcast: simulcast, simulcastTargets: SimulcastTargetStore(store: store), imageCacheBytes: config.images.cacheBytes, latestInterval: config.images.latestInterval, metrics: metrics, playbackRequests: playbackRequests, logger: logger, onRunning: { await readiness.up() }))

        let stallLimit = TimeAmount.seconds(max(30, Int64(config.hls.segmentDuration * 10)))
        let health = HealthCheck(eventLoops: MultiThreadedEventLoopGroup.singleton, deadline: .seconds(1), probes: [
            { await hub.ping() },
            { packagers.livePackagers.allSatisfy { !$0.isStalled(now: .now(), limit: stallLimit) } },
        ])
        var services: [ServiceGroupConfiguration.ServiceConfiguration] = [
            .init(service: webhooks), .init(service: monitor), .init(service: simulcast), .init(service: recorder), .init(service: hub), .init(service: rtmp),
        ] + http.servers.map { .init(service: $0) }
        if let configPath {
            services.append(.init(service: Reloader(path: configPath, notifier: notifier, logger: logger, status: status) { next in
                tokens.replace(with: next.accessTokens.map(AccessTokens.Credential.init))
                try tls.replace(with: try HTTPServers.tlsConfiguration(next.http))
                packagers.settings = PackagerSettings(next.hls)
                recorder.settings = RecordingSettings(next.recordings)
                budget.limit = next.hls.maxBytes
                webhooks.configure(next.webhooks.map(WebhookEndpoint.init), WebhookSettings(next))
                simulcast.configure(SimulcastPusher.Settings(next.simulcast), tls: try Simulcast.tlsContext(caFile: next.simulcast.caFile))
            }))
        }
        services.append(.init(service: Supervisor(notifier: notifier, health: health, status: status, logger: logger)))
        return Appliance(store: store, hub: hub, rtmp: rtmp, service: service, packagers: packagers, recorder: recorder, router: http.secure,
                         services: services)
    }

    /// The service group that runs it all, stopping gracefully on `signals`.
    func serviceGroup(logger: Logger, signals: [UnixSignal] = [.sigterm, .sigint]) -> ServiceGroup {
        ServiceGroup(configuration: .init(services: services, gracefulShutdownSignals: signals, logger: logger))
    }
}

/// Counts the parts that must be up (database, listeners) and runs `whenReady` once, when the last one is.
final class Readiness: Sendable {
    private let waiting: Mutex<Int>
    private let whenReady: @Sendable () async -> Void

    init(waitingFor parts: Int, whenReady: @escaping @Sendable () async -> Void) {
        waiting = Mutex(parts)
        self.whenReady = whenReady
    }

    func up() async {
        let remaining = waiting.withLock { count -> Int in
            count -= 1
            return count
        }
        if remaining == 0 { await whenReady() }
    }
}
