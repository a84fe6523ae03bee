import NIOCore
import Synchronization

/// Requests held until something is published: LL-HLS blocking playlist reloads and requests for the
/// hinted part (RFC 8216bis §6.2.5.2, §6.2.6). The packager calls ``wake()`` after every part and
/// segment; each waiter's condition is checked then, and it is answered at once when it already holds.
/// Bounded: at most ``HoldLimit/limit`` requests are held across all streams (more are answered at
/// once), and none longer than its timeout. Two ways to wait: `await` (the router's handlers) and a
/// callback with a timer on an event loop (the playlist fast path, which has no task).
final class HeldRequests: Sendable {
    enum Outcome: Sendable, Equatable {
        /// The condition holds.
        case ready
        /// The timeout passed first.
        case timedOut
        /// Too many requests are held already: answer with what there is.
        case overLimit
    }

    private struct Waiter {
        var isReady: @Sendable () -> Bool
        /// Called once, outside the lock: true when ready, false at the timeout.
        var resume: @Sendable (Bool) -> Void
        var timer: Scheduled<Void>?
    }

    private struct State {
        var next = 0
        var waiters: [Int: Waiter] = [:]
        /// Awaits in progress; one that leaves before its continuation is registered was cancelled.
        var active: Set<Int> = []
    }

    private let state = Mutex(State())
    let limit: HoldLimit

    init(limit: HoldLimit) {
        self.limit = limit
    }

    /// Requests held now.
    var count: Int { state.withLock { $0.waiters.count } }

    private func nextID(active: Bool) -> Int {
        state.withLock { state in
            state.next += 1
            if active { state.active.insert(state.next) }
            return state.next
        }
    }

    /// Waits until `isReady` returns true (checked now and at every ``wake()``), at most `timeout`.
    func wait(timeout: Duration, until isReady: @escaping @Sendable () -> Bool) async -> Outcome {
        if isReady() { return .ready }
        guard limit.acquire() else { return .overLimit }
        defer { limit.release() }
        let id = nextID(active: true)
        defer { _ = state.withLock { $0.active.remove(id) } }
        let ready = await withTaskGroup(of: Bool.self) { group in
            group.addTask { await self.hold(id, isReady) }
            group.addTask {
                try? await Task.sleep(for: timeout)
                return false
            }
            let first = await group.next() ?? false
            group.cancelAll()
            return first
        }
        return ready ? .ready : .timedOut
    }

    private func hold(_ id: Int, _ isReady: @escaping @Sendable () -> Bool) async -> Bool {
        await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                let resume: Bool? = state.withLock { state in
                    if !state.active.contains(id) { return false }
                    if isReady() { return true }
                    state.waiters[id] = Waiter(isReady: isReady, resume: { continuation.resume(returning: $0) })
                    return nil
                }
                if let resume { continuation.resume(returning: resume) }
            }
        } onCancel: {
            let waiter = state.withLock { state -> Waiter? in
                guard let waiter = state.waiters.removeValue(forKey: id) else {
                    state.active.remove(id)
                    return nil
                }
                return waiter
            }
            waiter?.resume(false)
        }
    }

    /// Calls `done` once: `.ready` when `isReady` holds (now, or at a ``wake()``), `.timedOut` after
    /// `timeout` (a timer on `loop`), `.overLimit` at once. Returns the hold's ID for ``cancel(_:)``
    /// (nil when `done` was called before it returned; cancelling a finished hold does nothing).
    /// `done` runs on whatever thread woke it.
    func hold(timeout: TimeAmount, on loop: any EventLoop, until isReady: @escaping @Sendable () -> Bool,
              done: @escaping @Sendable (Outcome) -> Void) -> Int? {
        if isReady() {
            done(.ready)
            return nil
        }
        guard limit.acquire() else {
            done(.overLimit)
            return nil
        }
        let id = nextID(active: false)
        let limit = limit
        let registered = state.withLock { state -> Bool in
            if isReady() { return false }
            state.waiters[id] = Waiter(isReady: isReady, resume: { ready in
                limit.release()
                done(ready ? .ready : .timedOut)
            })
            return true
        }
        guard registered else {
            limit.release()
            done(.ready)
            return nil
        }
        let timer = loop.scheduleTask(in: timeout) { [weak self] () -> Void in self?.finish(id, ready: false) }
        let stillHeld = state.withLock { state -> Bool in
            guard state.waiters[id] != nil else { return false }
            state.waiters[id]!.timer = timer
            return true
        }
        if !stillHeld { timer.cancel() }
        return id
    }

    /// Drops a hold whose client went away: its `done` is not called.
    func cancel(_ id: Int) {
        guard let waiter = state.withLock({ $0.waiters.removeValue(forKey: id) }) else { return }
        waiter.timer?.cancel()
        limit.release()
    }

    private func finish(_ id: Int, ready: Bool) {
        guard let waiter = state.withLock({ $0.waiters.removeValue(forKey: id) }) else { return }
        waiter.timer?.cancel()
        waiter.resume(ready)
    }

    /// Answers every held request whose condition now holds.
    func wake() {
        let ready = state.withLock { state -> [Waiter] in
            guard !state.waiters.isEmpty else { return [] }
            var ready: [Waiter] = []
            for (id, waiter) in state.waiters where waiter.isReady() {
                ready.append(waiter)
                state.waiters[id] = nil
            }
            return ready
        }
        for waiter in ready {
            waiter.timer?.cancel()
            waiter.resume(true)
        }
    }
}

/// How many requests may be held at once, over every stream (`hls.max_held_requests`).
final class HoldLimit: Sendable {
    let limit: Int
    private let held = Atomic<Int>(0)

    init(limit: Int) {
        self.limit = limit
    }

    /// Requests held now.
    var count: Int { held.load(ordering: .relaxed) }

    func acquire() -> Bool {
        if held.add(1, ordering: .relaxed).newValue <= limit { return true }
        held.subtract(1, ordering: .relaxed)
        return false
    }

    func release() {
        held.subtract(1, ordering: .relaxed)
    }
}
