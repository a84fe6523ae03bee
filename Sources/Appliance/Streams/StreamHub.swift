import Foundation
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle
import Synchronization

/// The answer to a publish request.
enum PublishDecision: Sendable {
    /// Go ahead: send media to `output` tagged with `session`.
    case accepted(PublishGrant)
    /// Refuse (Ingest sends the matching onStatus error, then closes).
    case refused(PublishRefusal)
}

/// What an accepted publisher needs.
struct PublishGrant: Sendable {
    var liveStreamID: String
    var session: Int
    var output: any StreamOutput
}

/// A connection asking to publish with a stream key; `reply` is called once, from the hub.
struct PublishRequest: Sendable {
    var session: Int
    var streamKey: String
    var publisher: any Publisher
    var reply: @Sendable (PublishDecision) -> Void
}

/// Limits the hub applies to every stream.
struct HubSettings: Sendable {
    /// A new publisher takes over from one that has sent nothing for this long.
    var takeoverAfter: Duration = .seconds(5)
    /// Most broadcasts at once (a reconnect or takeover keeps its broadcast's slot).
    var maxPublishers = Int.max
    /// Appliance-wide cap on a broadcast's length, whatever the stream's own setting.
    var maxContinuousDuration: Duration = .seconds(43200)
    /// How often timers are checked and the change feed is read.
    var tick: Duration = .milliseconds(250)
    /// The change feed is read every this many ticks.
    var changeFeedEvery = 2
}

/// The live-stream hub, a Service: one ``BroadcastLifecycle`` per stream, fed from one ordered input
/// stream (publish requests, first media and publisher-gone from the connections, playable from the
/// packagers, changes from the API and the change feed, timer ticks) and carried out here: outputs,
/// disconnects, status writes, lifecycle events. It owns every timer (reconnect window, max duration,
/// complete's delayed drop); shutdown ends every broadcast. Each connection's inputs arrive in the order
/// it sent them, because they share one FIFO.
final class StreamHub: Service, Sendable {
    enum Input: Sendable {
        case publish(PublishRequest)
        case firstMedia(session: Int)
        case publisherGone(session: Int)
        case playable(liveStreamID: String, broadcast: Int)
        /// A change made through ``LiveStreamService`` (its change-feed sequence number); `done` runs
        /// once it is carried out.
        case change(sequence: Int64, done: (@Sendable () -> Void)?)
        case tick
        /// The health check: `answer` runs when the loop gets to it.
        case ping(answer: @Sendable () -> Void)
        case shutdown
    }

    private let inputs: AsyncStream<Input>
    private let continuation: AsyncStream<Input>.Continuation
    private let directory: any StreamDirectory
    private let outputs: any StreamOutputFactory
    let events: LifecycleEvents
    private let journal: (any EventJournal)?
    private let settings: HubSettings
    private let logger: Logger
    private let onReady: @Sendable () async -> Void
    private let publishing = Atomic<Int>(0)
    private static let sessions = Atomic<Int>(0)

    /// `journal`: where every event is recorded before subscribers see it (none: events are not durable).
    init(directory: any StreamDirectory, outputs: any StreamOutputFactory, events: LifecycleEvents, journal: (any EventJournal)? = nil,
         settings: HubSettings = HubSettings(), logger: Logger, onReady: @escaping @Sendable () async -> Void = {}) {
        (inputs, continuation) = AsyncStream.makeStream(of: Input.self)
        self.directory = directory
        self.outputs = outputs
        self.events = events
        self.journal = journal
        self.settings = settings
        self.logger = logger
        self.onReady = onReady
    }

    /// A session number no other connection of this process has.
    static func nextSession() -> Int { sessions.add(1, ordering: .relaxed).newValue }

    /// Streams with a connected publisher.
    var publishingCount: Int { publishing.load(ordering: .relaxed) }

    /// Queues an input; never waits. After the hub stopped, a publish is refused and a change's `done` runs.
    func send(_ input: Input) {
        if case .terminated = continuation.yield(input) { Self.reject(input) }
    }

    /// Carries out a change and returns once it is done (the API's effects are immediate).
    func apply(_ change: LiveStreamChange) async {
        await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
            send(.change(sequence: change.sequence, done: { done.resume() }))
        }
    }

    /// True once the run loop has handled a ping: it is not stuck (the watchdog asks).
    func ping() async -> Bool {
        await withCheckedContinuation { (answered: CheckedContinuation<Bool, Never>) in
            switch continuation.yield(.ping(answer: { answered.resume(returning: true) })) {
            case .terminated: answered.resume(returning: false)
            default: break
            }
        }
    }

    private static func reject(_ input: Input) {
        switch input {
        case .publish(let request): request.reply(.refused(.unavailable))
        case .change(_, let done): done?()
        case .ping(let answer): answer()
        case .firstMedia, .publisherGone, .playable, .tick, .shutdown: break
        }
    }

    func run() async throws {
        let core = HubState(hub: self, directory: directory, outputs: outputs, journal: journal, settings: settings, logger: logger)
        do {
            try await loop(core)
        } catch {
            await stop(core)
            throw error
        }
        await stop(core)
    }

    private func loop(_ core: HubState) async throws {
        try await core.start()
        await onReady()
        await withGracefulShutdownHandler {
            await withTaskGroup(of: Void.self) { group in
                group.addTask { [continuation, tick = settings.tick] in
                    while !Task.isCancelled {
                        try? await Task.sleep(for: tick)
                        continuation.yield(.tick)
                    }
                }
                for await input in inputs {
                    await core.handle(input)
                    if case .shutdown = input { break }
                }
                group.cancelAll()
            }
        } onGracefulShutdown: { [continuation] in
            continuation.yield(.shutdown)
        }
    }

    /// No more inputs: every broadcast ends (also when the hub's task was cancelled rather than shut
    /// down gracefully), what is still queued is refused (publishes) or released (changes, pings), and
    /// the lifecycle events end, so their subscribers finish too. Also when the hub failed to start.
    private func stop(_ core: HubState) async {
        await core.handle(.shutdown)
        continuation.finish()
        for await input in inputs { Self.reject(input) }
        events.finish()
    }

    func published(_ count: Int) { publishing.store(count, ordering: .relaxed) }
}
