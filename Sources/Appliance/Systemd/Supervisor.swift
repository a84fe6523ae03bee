import Logging
import ServiceLifecycle

/// Keeps systemd informed while the appliance runs: WATCHDOG=1 at half of WATCHDOG_USEC but only
/// while the ``HealthCheck`` passes, STATUS= with live figures, STOPPING=1 as soon as a graceful
/// shutdown starts (it runs last in the service group, so it hears of the shutdown first).
struct Supervisor: Service {
    let notifier: SystemdNotifier
    let health: HealthCheck
    /// One line of live figures for STATUS=.
    let status: @Sendable () async -> String
    let logger: Logger
    /// How often STATUS= is refreshed when no watchdog is asked for.
    var statusInterval: Duration = .seconds(5)

    func run() async throws {
        let watchdog = notifier.watchdogInterval
        let period = watchdog.map { min($0 / 2, statusInterval) } ?? statusInterval
        if let watchdog { logger.info("systemd watchdog on", metadata: ["interval": "\(watchdog)"]) }
        await withGracefulShutdownHandler {
            await cancelWhenGracefulShutdown { [self] in
                await supervise(pingWatchdog: watchdog != nil, every: period)
            }
        } onGracefulShutdown: { [notifier] in
            notifier.stopping()
        }
    }

    private func supervise(pingWatchdog: Bool, every period: Duration) async {
        var failing = false
        while !Task.isCancelled {
            let healthy = await health.healthy()
            if healthy {
                if pingWatchdog { notifier.watchdog() }
                if failing { logger.notice("health check passes again") }
            } else if !failing {
                logger.critical("health check failed: watchdog pings withheld")
            }
            failing = !healthy
            notifier.status(await status())
            try? await Task.sleep(for: period)
        }
    }
}
