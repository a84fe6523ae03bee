import NIOCore
import Synchronization

/// What the watchdog asks before each ping: every event loop runs a task within `deadline`, and no
/// pipeline reports a stall. A check that hangs (a deadlocked actor) simply means no ping.
struct HealthCheck: Sendable {
    let eventLoops: any EventLoopGroup
    let deadline: Duration
    /// Extra checks (the stream hub answering, packagers making progress); true means healthy.
    let probes: [@Sendable () async -> Bool]

    func healthy() async -> Bool {
        guard await eventLoopsAnswer() else { return false }
        for probe in probes where !(await probe()) { return false }
        return true
    }

    /// Submits a no-op to every loop and waits until all ran it or the deadline passed.
    func eventLoopsAnswer() async -> Bool {
        final class Count: Sendable { let value = Atomic<Int>(0) }
        let answered = Count()
        var loops = 0
        for loop in eventLoops.makeIterator() {
            loops += 1
            loop.execute { answered.value.add(1, ordering: .relaxed) }
        }
        let start = ContinuousClock.now
        while answered.value.load(ordering: .relaxed) < loops {
            guard ContinuousClock.now - start < deadline else { return false }
            try? await Task.sleep(for: .milliseconds(5))
        }
        return true
    }
}
