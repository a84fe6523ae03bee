import ArgumentParser
import Dispatch
import Foundation
import Logging
import NIOCore
import NIOPosix

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
        } catch {
            logger.critical("cannot start", metadata: ["error": "\(error)"])
            throw ExitCode(1)
        }
        await Self.waitForTermination()
        logger.notice("stopping")
        await appliance.stop()
        logger.notice("stopped")
    }

    /// Suspends until SIGTERM or SIGINT.
    static func waitForTermination() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let once = SignalOnce(continuation)
            for signalNumber in [SIGTERM, SIGINT] {
                signal(signalNumber, SIG_IGN)
                let source = DispatchSource.makeSignalSource(signal: signalNumber, queue: .main)
                source.setEventHandler { once.fire() }
                source.resume()
                once.keep(source)
            }
        }
    }
}

/// Resumes a continuation once, from whichever signal comes first.
private final class SignalOnce: @unchecked Sendable {
    private let lock = NSLock()
    private var continuation: CheckedContinuation<Void, Never>?
    private var sources: [any DispatchSourceSignal] = []

    init(_ continuation: CheckedContinuation<Void, Never>) { self.continuation = continuation }

    func keep(_ source: any DispatchSourceSignal) { lock.withLock { sources.append(source) } }

    func fire() {
        let pending = lock.withLock { () -> CheckedContinuation<Void, Never>? in
            defer { continuation = nil }
            return continuation
        }
        pending?.resume()
    }
}

/// The running appliance: what `serve` builds and what tests can build the same way.
struct Appliance: Sendable {
    let store: LiveStreamStore
    let hub: StreamHub
    let rtmp: RTMPServer
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
        let rtmp = try await RTMPServer.start(config: config.rtmp, hub: hub, group: MultiThreadedEventLoopGroup.singleton, logger: logger)
        logger.notice("onair ready", metadata: [
            "rtmp": "\(rtmp.localAddress?.endpoint ?? "?")",
            "hls": "\(config.hls.directory)",
            "database": "\(config.storage.database)",
        ])
        return Appliance(store: store, hub: hub, rtmp: rtmp, logger: logger)
    }

    func stop() async {
        await rtmp.close()
        await hub.endAll()
    }
}

extension LiveStreamStore: StreamDirectory {}
