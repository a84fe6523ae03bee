import Dispatch
import Foundation
import Logging
import ServiceLifecycle

/// SIGHUP: RELOADING=1, re-read the configuration file, apply what can change at run time (access
/// tokens, TLS certificate and key, HLS limits for new broadcasts), READY=1. A file that fails
/// validation is logged and the running configuration stays.
struct Reloader: Service {
    let path: String
    let notifier: SystemdNotifier
    let logger: Logger
    let status: @Sendable () async -> String
    let apply: @Sendable (Config) throws -> Void

    func run() async throws {
        let (signals, continuation) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        signal(SIGHUP, SIG_IGN)
        let source = DispatchSource.makeSignalSource(signal: SIGHUP, queue: .global())
        source.setEventHandler { continuation.yield() }
        source.resume()
        defer { source.cancel() }
        await cancelWhenGracefulShutdown {
            for await _ in signals { await reload() }
        }
    }

    func reload() async {
        notifier.reloading()
        logger.notice("reloading configuration", metadata: ["config": "\(path)"])
        do {
            try apply(try ConfigLoader.load(path: path))
            logger.notice("configuration reloaded")
        } catch {
            logger.error("reload failed; keeping the running configuration", metadata: ["error": "\(error)"])
        }
        notifier.ready(status: await status())
    }
}
