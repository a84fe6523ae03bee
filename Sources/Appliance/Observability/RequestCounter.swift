import Synchronization

/// Counts events (playback requests, errors) for the STATUS line: the total, and how many since
/// the last time `sinceLastRead` was asked.
final class RequestCounter: Sendable {
    private let total = Atomic<Int>(0)
    private let lastRead = Atomic<Int>(0)

    func increment() { total.add(1, ordering: .relaxed) }

    var count: Int { total.load(ordering: .relaxed) }

    /// Events since the previous call.
    func sinceLastRead() -> Int {
        let now = total.load(ordering: .relaxed)
        return now - lastRead.exchange(now, ordering: .relaxed)
    }
}
