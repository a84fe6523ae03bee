import ArgumentParser
import Foundation
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle

/// `onair serve`: the composition root. Builds store, hub, packager and listeners, runs until
/// SIGTERM/SIGINT, then stops gracefully (stop accepting, end playlists, close publishers).
struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run the appliance: RTMP ingest and HLS packaging.")

    @OptionGroup var options: ConfigOption

    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel: String = "info"

    func run() async throws {
        let config = try options.load()
        let level = Logger.Level(rawValue: logLevel) ?? .info
        LoggingSystem.bootstrap { JournalLogHandler(label: $0, level: level) }
        let logger = Logger(label: "onair")

        let appliance: Appliance
        do {
            appliance = try await Appliance.start(config: config, logger: logger)
        } catch let error as ConfigError {
            logger.critical("cannot start: configuration", metadata: ["error": "\(error)"])
            throw ExitCode(78)
        } catch {
            logger.critical("cannot start", metadata: ["error": "\(error)"])
            throw ExitCode(1)
        }
        let group = ServiceGroup(configuration: .init(
            services: [.init(service: appliance)] + appliance.httpServers.map { .init(service: $0) },
            gracefulShutdownSignals: [.sigterm, .sigint],
            logger: logger))
        do {
            try await group.run()
        } catch {
            logger.critical("stopped on error", metadata: ["error": "\(error)"])
            await appliance.stop()
            throw ExitCode(1)
        }
        logger.notice("stopped")
    }
}

/// The running appliance: what `serve` builds (the composition root). RTMP is bound when `start`
/// returns; the HTTP servers bind when the service group runs them.
struct Appliance: Service {
    let store: LiveStreamStore
    let hub: StreamHub
    let rtmp: RTMPServer
    let httpServers: [any Service]
    let logger: Logger

    static func start(config: Config, logger: Logger) async throws -> Appliance {
        let store = try LiveStreamStore(path: config.storage.database)
        try store.resetActiveStreams()
        let budget = HLSBudget(limit: config.hls.maxBytes)
        let packagers = PackagerFactory(
            root: config.hls.directory,
            settings: PackagerSettings(segmentDuration: config.hls.segmentDuration, playlistLength: config.hls.playlistLength,
                                       deleteGraceSegments: config.hls.deleteGraceSegments, maxBytesPerStream: config.hls.maxBytesPerStream),
            budget: budget, logger: logger,
            wallClock: { Int64((Date().timeIntervalSince1970 * 1000).rounded()) })
        let hub = StreamHub(directory: store, outputs: packagers, takeoverAfter: config.rtmp.takeoverAfter, logger: logger)
        let servers = try HTTPServers.make(config: config.http, store: store, hub: hub, packagers: packagers,
                                           tokens: AccessTokens(config.accessTokens), logger: logger)
        let rtmp = try await RTMPServer.start(config: config.rtmp, hub: hub, group: MultiThreadedEventLoopGroup.singleton, logger: logger)
        logger.notice("onair ready", metadata: [
            "rtmp": "\(rtmp.localAddress?.endpoint ?? "?")",
            "https": "\(config.http.listen)",
            "http": "\(config.http.plainListen.map { "\($0)" } ?? "off")",
            "hls": "\(config.hls.directory)",
            "database": "\(config.storage.database)",
        ])
        return Appliance(store: store, hub: hub, rtmp: rtmp, httpServers: servers, logger: logger)
    }

    /// Runs until graceful shutdown, then stops ingest: playlists end, publishers are closed.
    func run() async throws {
        try? await gracefulShutdown()
        logger.notice("stopping")
        await stop()
    }

    func stop() async {
        await rtmp.close()
        await hub.endAll()
    }
}

extension LiveStreamStore: StreamDirectory {}
