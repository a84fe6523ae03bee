import Synchronization

/// Requests held until something is published: LL-HLS blocking playlist reloads and requests for the
/// hinted part (RFC 8216bis §6.2.5.2, §6.2.6). The packager calls ``wake()`` after every part and
/// segment; each waiter's condition is checked then, and it is answered at once when it already holds.
/// Bounded: at most ``HoldLimit/limit`` requests are held across all streams (more are answered at
/// once), and none longer than its timeout.
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
        var continuation: CheckedContinuation<Bool, Never>
    }

    private struct State {
        var next = 0
        var waiters: [Int: Waiter] = [:]
        /// Waits in progress; one that leaves before its continuation is registered was cancelled.
        var active: Set<Int> = []
    }

    private let state = Mutex(State())
    let limit: HoldLimit

    init(limit: HoldLimit) {
        self.limit = limit
    }

    /// Requests held now.
    var count: Int { state.withLock { $0.waiters.count } }

    /// Waits until `isReady` returns true (checked now and at every ``wake()``), at most `timeout`.
    func wait(timeout: Duration, until isReady: @escaping @Sendable () -> Bool) async -> Outcome {
        if isReady() { return .ready }
        guard limit.acquire() else { return .overLimit }
        defer { limit.release() }
        let id = state.withLock { state -> Int in
            state.next += 1
            state.active.insert(state.next)
            return state.next
        }
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
                    state.waiters[id] = Waiter(isReady: isReady, continuation: continuation)
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
            waiter?.continuation.resume(returning: false)
        }
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
        for waiter in ready { waiter.continuation.resume(returning: true) }
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
