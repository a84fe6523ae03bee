import ArgumentParser
import Foundation
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle

/// `onair serve`: runs the appliance until SIGTERM/SIGINT, reloads on SIGHUP.
struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run the appliance: RTMP ingest, HLS packaging, HTTPS API and playback.")

    @OptionGroup var options: ConfigOption

    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel: String = "info"

    func run() async throws {
        let config = try options.load()
        Self.raiseDescriptorLimit()
        let level = Logger.Level(rawValue: logLevel) ?? .info
        LoggingSystem.bootstrap { JournalLogHandler(label: $0, level: level) }
        let logger = Logger(label: "onair")

        let appliance: Appliance
        do {
            appliance = try Appliance.build(config: config, configPath: options.config, logger: logger,
                                            metrics: MetricsRegistry.bootstrap())
        } catch {
            logger.critical("cannot start", metadata: ["error": "\(error)"])
            throw ExitCode(1)
        }
        FaultInjection.armFromEnvironment(logger: logger)
        do {
            try await appliance.serviceGroup(logger: logger).run()
        } catch {
            logger.critical("stopped on error", metadata: ["error": "\(error)"])
            throw ExitCode(1)
        }
        logger.notice("stopped")
    }

    /// Every encoder and viewer holds a descriptor: take the hard limit (the unit sets 65536), not the
    /// 1024 soft limit a shell usually passes on.
    static func raiseDescriptorLimit() {
        var limit = rlimit()
        let resource = __rlimit_resource_t(RLIMIT_NOFILE.rawValue)
        guard getrlimit(resource, &limit) == 0, limit.rlim_cur < limit.rlim_max else { return }
        limit.rlim_cur = limit.rlim_max
        _ = setrlimit(resource, &limit)
    }
}
