import CSystemd
import Dispatch
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// The service manager notification protocol (sd_notify(3)) through libsystemd. Every call is a
/// no-op when NOTIFY_SOCKET is unset (not started by systemd), so the binary runs anywhere.
///
/// sd_notify blocks while the manager's socket queue is full. The datagrams therefore go out from a
/// serial queue of their own, never from a Swift concurrency thread or an event loop: a manager that
/// stops reading cannot starve signal handling or ingest. While sends are backed up, STATUS updates
/// are dropped (the next one supersedes them); state changes and watchdog pings are kept in order.
struct SystemdNotifier: Sendable {
    private static let queue = DispatchQueue(label: "onair.sd_notify")
    private static let backlog = Atomic<Int>(0)
    /// Sends waiting beyond which STATUS updates are dropped.
    static let statusBacklogLimit = 4

    /// Sends newline-separated `KEY=VALUE` assignments, e.g. `READY=1\nSTATUS=...`.
    func notify(_ assignments: String) {
        Self.backlog.add(1, ordering: .relaxed)
        Self.queue.async {
            _ = sd_notify(0, assignments)
            Self.backlog.subtract(1, ordering: .relaxed)
        }
    }

    func ready(status: String) { notify("READY=1\nSTATUS=\(status)") }

    func status(_ text: String) {
        guard Self.backlog.load(ordering: .relaxed) < Self.statusBacklogLimit else { return }
        notify("STATUS=\(text)")
    }
    func watchdog() { notify("WATCHDOG=1") }
    func stopping() { notify("STOPPING=1\nSTATUS=stopping") }
    /// RELOADING=1 with the CLOCK_MONOTONIC timestamp systemd 253+ requires.
    func reloading() { notify("RELOADING=1\nMONOTONIC_USEC=\(Self.monotonicMicroseconds())\nSTATUS=reloading configuration") }

    /// The watchdog interval systemd expects for this process (WATCHDOG_USEC, checked against
    /// WATCHDOG_PID), or nil when the watchdog is off.
    var watchdogInterval: Duration? {
        var microseconds: UInt64 = 0
        guard sd_watchdog_enabled(0, &microseconds) > 0, microseconds > 0 else { return nil }
        return .microseconds(Int64(microseconds))
    }

    static func monotonicMicroseconds() -> UInt64 {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return UInt64(now.tv_sec) * 1_000_000 + UInt64(now.tv_nsec) / 1000
    }
}
