import Foundation

/// When a failed delivery is tried again: exponential backoff with jitter, for `retryFor` seconds
/// after the event. Pure: the randomness is passed in.
struct RetrySchedule: Sendable, Equatable {
    /// The delay after the first failure, in seconds.
    var firstDelay = 1.0
    /// Each further failure multiplies the delay by this.
    var factor = 2.0
    /// The longest delay between two attempts.
    var maxDelay = 300.0
    /// Seconds from the event after which it is given up (Mux: 24 h).
    var retryFor = 86_400.0

    /// The delay after `failures` failed attempts (1 or more), `jitter` in 0...1 taking it down to half.
    func delay(afterFailures failures: Int, jitter: Double) -> Double {
        let exponent = Double(max(0, failures - 1))
        let base = min(maxDelay, firstDelay * pow(factor, min(exponent, 64)))
        return base * (1 - 0.5 * min(1, max(0, jitter)))
    }

    /// When to try again after `failures` failed attempts of an event made at `createdAt` (seconds),
    /// the last one ending `now`; nil when that would be past `retryFor`: give up.
    func nextAttempt(afterFailures failures: Int, createdAt: Double, now: Double, jitter: Double) -> Double? {
        let next = now + delay(afterFailures: failures, jitter: jitter)
        return next - createdAt > retryFor ? nil : next
    }

    /// Attempts an event gets at most (every one failing at once, no jitter): `max_attempts` in Mux's attempt items.
    var maxAttempts: Int {
        var elapsed = 0.0, attempts = 1
        while true {
            elapsed += delay(afterFailures: attempts, jitter: 0)
            if elapsed > retryFor || attempts >= 10_000 { return attempts }
            attempts += 1
        }
    }
}
