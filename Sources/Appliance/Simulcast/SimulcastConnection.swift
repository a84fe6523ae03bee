/// One target's connection over one broadcast, as a pure state machine (time passed in): what Mux
/// status it has and when to connect again. The pusher carries out the decisions.
///
/// | input | status | then |
/// |---|---|---|
/// | broadcast started | starting | connect |
/// | publish accepted | broadcasting | |
/// | failed (refused, dropped, timed out) | errored (normal; fatal when the target refused the key) | connect again after the backoff |
/// | broadcast ended | idle | close |
///
/// The backoff doubles from `firstRetry` to `maxRetry`; a connection that stayed up `stableAfter`
/// starts it again from the beginning. A fatal refusal waits `maxRetry` (a wrong key does not fix
/// itself quickly, but a key pasted in at YouTube's side does).
struct SimulcastConnection: Sendable, Equatable {
    struct Settings: Sendable, Equatable {
        var firstRetry: Duration = .seconds(1)
        var maxRetry: Duration = .seconds(30)
        var stableAfter: Duration = .seconds(30)
    }

    let settings: Settings
    private(set) var status = SimulcastStatus.idle
    private(set) var failures = 0
    private var publishingSince: ContinuousClock.Instant?
    private var ended = false

    init(settings: Settings = Settings()) { self.settings = settings }

    /// The broadcast began: connect now.
    mutating func started() -> SimulcastStatus {
        status = SimulcastStatus(state: .starting, severity: nil)
        return status
    }

    /// The target accepted the publish.
    mutating func publishing(at now: ContinuousClock.Instant) -> SimulcastStatus? {
        guard !ended else { return nil }
        publishingSince = now
        return change(to: SimulcastStatus(state: .broadcasting, severity: nil))
    }

    /// The connection failed or ended while the broadcast goes on: the new status (nil when it did
    /// not change) and the wait before the next attempt (nil after the broadcast ended).
    mutating func failed(at now: ContinuousClock.Instant, fatal: Bool) -> (status: SimulcastStatus?, retryAfter: Duration?) {
        guard !ended else { return (nil, nil) }
        if let since = publishingSince, now - since >= settings.stableAfter { failures = 0 }
        publishingSince = nil
        failures += 1
        var wait = settings.firstRetry
        for _ in 1..<min(failures, 32) where wait < settings.maxRetry { wait *= 2 }
        if fatal || wait > settings.maxRetry { wait = settings.maxRetry }
        return (change(to: SimulcastStatus(state: .errored, severity: fatal ? .fatal : .normal)), wait)
    }

    /// The broadcast ended: idle, nothing more.
    mutating func broadcastEnded() -> SimulcastStatus? {
        guard !ended else { return nil }
        ended = true
        return change(to: .idle)
    }

    var isEnded: Bool { ended }

    private mutating func change(to next: SimulcastStatus) -> SimulcastStatus? {
        guard next != status else { return nil }
        status = next
        return next
    }
}
