import Logging
import Media
import NIOCore
import Synchronization
import Testing
@testable import Appliance

/// Records what the hub does to an output.
final class RecordingOutput: StreamOutput {
    let events = Mutex<[String]>([])
    func sessionStarted(_ session: Int) { events.withLock { $0.append("start \(session)") } }
    func tracks(video: MediaTrack?, audio: MediaTrack?, session: Int) { events.withLock { $0.append("tracks \(session)") } }
    func append(_ sample: MediaSample, session: Int) { events.withLock { $0.append("sample \(session)") } }
    func sessionEnded(_ session: Int) { events.withLock { $0.append("end \(session)") } }
    func broadcastEnded() { events.withLock { $0.append("broadcast end") } }
    var assetID: String? { nil }
    var log: [String] { events.withLock { $0 } }
}

final class RecordingOutputs: StreamOutputFactory {
    let made = Mutex<[String: (output: RecordingOutput, playable: @Sendable () -> Void)]>([:])
    let removed = Mutex<[String]>([])
    func makeOutput(for stream: LiveStream, onPlayable: @escaping @Sendable () -> Void) async -> any StreamOutput {
        let output = RecordingOutput()
        made.withLock { $0[stream.id] = (output, onPlayable) }
        return output
    }
    func removeFiles(of liveStreamID: String) { removed.withLock { $0.append(liveStreamID) } }
    func output(_ id: String) -> RecordingOutput? { made.withLock { $0[id]?.output } }
    /// What the packager does when its playlist has three segments.
    func becomePlayable(_ id: String) { made.withLock { $0[id] }?.playable() }
    var count: Int { made.withLock { $0.count } }
}

final class FakePublisher: Publisher {
    let activity: Atomic<UInt64>
    let disconnected = Atomic<Bool>(false)
    init(silentFor seconds: Double = 0) {
        activity = Atomic(NIODeadline.now().uptimeNanoseconds &- UInt64(seconds * 1e9))
    }
    var lastActivityNanoseconds: UInt64 { activity.load(ordering: .relaxed) }
    var isDisconnected: Bool { disconnected.load(ordering: .relaxed) }
    func disconnect(reason: String) { disconnected.store(true, ordering: .relaxed) }
}

/// The hub running for real (its own task, real store, test outputs); events collected in order.
struct RunningHub {
    let store: LiveStreamStore
    let outputs = RecordingOutputs()
    let hub: StreamHub
    let events: AsyncStream<LifecycleEvent>

    init(_ settings: HubSettings = HubSettings(), store: LiveStreamStore = LiveStreamStore(), journal: (any EventJournal)? = nil) {
        self.store = store
        let lifecycle = LifecycleEvents(logger: Logger(label: "test"))
        events = lifecycle.subscribe("test")
        var settings = settings
        settings.tick = .milliseconds(20)
        settings.changeFeedEvery = 1
        hub = StreamHub(directory: store, outputs: outputs, events: lifecycle, journal: journal, settings: settings, logger: Logger(label: "test"))
    }

    /// Runs `body` while the hub runs.
    func run(_ body: (RunningHub) async throws -> Void) async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { [hub] in try await hub.run() }
            try await body(self)
            group.cancelAll()
        }
    }

    func stream(reconnectWindow: Double = 0) async throws -> LiveStream {
        var options = NewLiveStream()
        options.reconnectWindow = reconnectWindow
        return try await store.create(options).stream
    }

    func publish(_ stream: LiveStream, _ publisher: FakePublisher = FakePublisher()) async -> (PublishDecision, Int) {
        let session = StreamHub.nextSession()
        let decision = await withCheckedContinuation { (reply: CheckedContinuation<PublishDecision, Never>) in
            hub.send(.publish(PublishRequest(session: session, streamKey: stream.streamKey, publisher: publisher) { reply.resume(returning: $0) }))
        }
        return (decision, session)
    }

    func status(_ id: String) async throws -> LiveStream.Status? { try await store.liveStream(id: id)?.status }

    /// The next `count` event types, leaving out `created` (the feed reports the test's own creations
    /// whenever its next read comes).
    func nextEvents(_ count: Int) async -> [LifecycleEventType] {
        var types: [LifecycleEventType] = []
        for await event in events where event.type != .created {
            types.append(event.type)
            if types.count == count { break }
        }
        return types
    }
}

func accepted(_ decision: PublishDecision) throws -> PublishGrant {
    guard case .accepted(let grant) = decision else { throw TestFailure("refused: \(decision)") }
    return grant
}

func refusal(_ decision: PublishDecision) -> PublishRefusal? {
    if case .refused(let reason) = decision { reason } else { nil }
}

@Suite struct StreamHubTests {
    @Test func unknownKeyIsRefused() async throws {
        try await RunningHub().run { h in
            let ghost = LiveStream(id: "x", streamKey: "nope", status: .idle, createdAt: 0, reconnectWindow: 0, maxContinuousDuration: 60,
                                   latencyMode: .standard, audioOnly: false, test: false, playbackIDs: [])
            #expect(refusal(await h.publish(ghost).0) == .unknownKey)
            #expect(RTMPConnectionHandler.code(for: .unknownKey) == "NetStream.Publish.BadName")
            #expect(h.outputs.count == 0)
        }
    }

    @Test func statusTurnsActiveWhenPlayableNotOnFirstMediaAndIdleAfterTheWindow() async throws {
        try await RunningHub().run { h in
            let live = try await h.stream(reconnectWindow: 0)
            let (decision, session) = await h.publish(live)
            _ = try accepted(decision)
            h.hub.send(.firstMedia(session: session))
            #expect(await h.nextEvents(2) == [.connected, .recording])
            #expect(try await h.status(live.id) == .idle, "recording does not change the status")
            h.outputs.becomePlayable(live.id)
            #expect(await h.nextEvents(1) == [.active])
            #expect(try await h.status(live.id) == .active)
            h.hub.send(.publisherGone(session: session))
            #expect(await h.nextEvents(2) == [.disconnected, .idle])
            #expect(try await h.status(live.id) == .idle)
            #expect(h.outputs.output(live.id)?.log == ["start \(session)", "end \(session)", "broadcast end"])
        }
    }

    @Test func aPublisherGoneBeforeItsAcceptArrivesStillEndsTheBroadcast() async throws {
        // The connection's three inputs are queued back to back: the hub sees them in that order.
        try await RunningHub().run { h in
            let live = try await h.stream(reconnectWindow: 0)
            let session = StreamHub.nextSession()
            h.hub.send(.publish(PublishRequest(session: session, streamKey: live.streamKey, publisher: FakePublisher()) { _ in }))
            h.hub.send(.firstMedia(session: session))
            h.hub.send(.publisherGone(session: session))
            #expect(await h.nextEvents(4) == [.connected, .recording, .disconnected, .idle])
            #expect(h.hub.publishingCount == 0)
        }
    }

    @Test func reconnectInsideTheWindowContinuesTheBroadcast() async throws {
        try await RunningHub().run { h in
            let live = try await h.stream(reconnectWindow: 30)
            let (first, one) = await h.publish(live)
            let grant = try accepted(first)
            h.hub.send(.firstMedia(session: one))
            h.outputs.becomePlayable(live.id)
            h.hub.send(.publisherGone(session: one))
            #expect(await h.nextEvents(4) == [.connected, .recording, .active, .disconnected])
            #expect(try await h.status(live.id) == .active, "active during the reconnect window")
            let (second, two) = await h.publish(live)
            #expect(try accepted(second).output === grant.output)
            #expect(h.outputs.count == 1)
            #expect(h.outputs.output(live.id)?.log == ["start \(one)", "end \(one)", "start \(two)"])
        }
    }

    @Test func busyStreamRefusesASecondPublisherButASilentOneIsTakenOver() async throws {
        try await RunningHub().run { h in
            let live = try await h.stream()
            let busy = FakePublisher()
            let (first, one) = await h.publish(live, busy)
            _ = try accepted(first)
            #expect(refusal(await h.publish(live).0) == .alreadyPublishing)
            #expect(!busy.isDisconnected)
            busy.activity.store(NIODeadline.now().uptimeNanoseconds &- 6_000_000_000, ordering: .relaxed)
            let (second, two) = await h.publish(live)
            _ = try accepted(second)
            #expect(busy.isDisconnected)
            h.hub.send(.publisherGone(session: one))  // the old connection's late goodbye changes nothing
            #expect(await h.hub.ping())
            #expect(h.outputs.output(live.id)?.log == ["start \(one)", "end \(one)", "start \(two)"])
        }
    }

    @Test func maxPublishersRefusesANewBroadcastButNotATakeover() async throws {
        var settings = HubSettings()
        settings.maxPublishers = 2
        try await RunningHub(settings).run { h in
            let (a, b, c) = (try await h.stream(), try await h.stream(), try await h.stream())
            let first = FakePublisher()
            _ = try accepted(await h.publish(a, first).0)
            let (decisionB, sessionB) = await h.publish(b)
            _ = try accepted(decisionB)
            #expect(refusal(await h.publish(c).0) == .capacity)
            #expect(RTMPConnectionHandler.code(for: .capacity) == "NetStream.Publish.Rejected")
            first.activity.store(NIODeadline.now().uptimeNanoseconds &- 6_000_000_000, ordering: .relaxed)
            _ = try accepted(await h.publish(a).0)
            h.hub.send(.publisherGone(session: sessionB))  // no reconnect window: b's broadcast ends, its slot frees
            _ = try accepted(await h.publish(c).0)
        }
    }

    @Test func changesFromTheFeedActOnALivePublisher() async throws {
        // What `onair streams disable|reset-key|delete` does: the store only, the hub finds it in the feed.
        try await RunningHub().run { h in
            let (disabled, reset, deleted) = (try await h.stream(reconnectWindow: 30), try await h.stream(reconnectWindow: 30),
                                              try await h.stream(reconnectWindow: 30))
            let publishers = (FakePublisher(), FakePublisher(), FakePublisher())
            _ = try accepted(await h.publish(disabled, publishers.0).0)
            _ = try accepted(await h.publish(reset, publishers.1).0)
            _ = try accepted(await h.publish(deleted, publishers.2).0)
            _ = try await h.store.setDisabled(id: disabled.id, true)
            _ = try await h.store.resetStreamKey(id: reset.id)
            _ = try await h.store.delete(id: deleted.id)
            var seen: [LifecycleEventType] = []
            for await event in h.events where ![.connected, .created].contains(event.type) {
                seen.append(event.type)
                if event.type == .deleted { break }
            }
            #expect(seen == [.disconnected, .disabled, .updated, .disconnected, .disconnected, .deleted])
            #expect(publishers.0.isDisconnected && publishers.1.isDisconnected && publishers.2.isDisconnected)
            #expect(refusal(await h.publish(disabled).0) == .disabled)
            // The encoder comes back with the new key: the broadcast continues, nothing stays stuck.
            let renewed = try #require(try await h.store.liveStream(id: reset.id))
            _ = try accepted(await h.publish(renewed).0)
            #expect(h.outputs.output(reset.id)?.log.filter { $0.hasPrefix("start") }.count == 2)
            #expect(h.outputs.removed.withLock { $0 } == [deleted.id])
            #expect(h.outputs.output(disabled.id)?.log.last == "broadcast end")
        }
    }

    @Test func changesMadeDirectlyAreNotCarriedOutTwice() async throws {
        try await RunningHub().run { h in
            let live = try await h.stream(reconnectWindow: 30)
            let service = LiveStreamService(repository: h.store, hub: h.hub)
            for _ in 0..<3 { _ = try await service.update(id: live.id, LiveStreamUpdate()) }  // the API's path, then the feed's
            try await Task.sleep(for: .milliseconds(100))  // several feed reads
            _ = try await service.setDisabled(id: live.id, false)
            #expect(await h.nextEvents(4) == [.updated, .updated, .updated, .enabled], "each change once, in order")
        }
    }

    @Test func aBurstOfChangesIsReadPastOnePageOfTheFeed() async throws {
        try await RunningHub().run { h in
            let live = try await h.stream(reconnectWindow: 30)
            for _ in 0..<250 { _ = try await h.store.update(id: live.id, LiveStreamUpdate()) }  // the CLI's path only
            _ = try await h.store.setDisabled(id: live.id, true)
            let events = await h.nextEvents(251)
            #expect(events.filter { $0 == .updated }.count == 250 && events.last == .disabled)
        }
    }

    @Test func aHubStoppedByCancellationStillEndsItsBroadcasts() async throws {
        let h = RunningHub()
        let live = try await h.stream(reconnectWindow: 30)
        let publisher = FakePublisher()
        try await h.run { h in
            let (decision, session) = await h.publish(live, publisher)
            _ = try accepted(decision)
            h.hub.send(.firstMedia(session: session))
            h.outputs.becomePlayable(live.id)
            #expect(await h.nextEvents(3) == [.connected, .recording, .active])
        }  // cancels the hub's task: no graceful shutdown
        #expect(publisher.isDisconnected)
        #expect(h.outputs.output(live.id)?.log.last == "broadcast end", "the playlist got its ENDLIST")
        var rest: [LifecycleEventType] = []
        for await event in h.events { rest.append(event.type) }  // the stream ends once the hub stopped
        #expect(rest == [.disconnected, .idle])
    }

    @Test func gracefulShutdownEndsEveryBroadcastWithStatusIdle() async throws {
        try await RunningHub().run { h in
            let live = try await h.stream(reconnectWindow: 30)
            let (decision, session) = await h.publish(live)
            _ = try accepted(decision)
            h.hub.send(.firstMedia(session: session))
            h.outputs.becomePlayable(live.id)
            #expect(await h.nextEvents(3) == [.connected, .recording, .active])
            h.hub.send(.shutdown)
            #expect(await h.nextEvents(2) == [.disconnected, .idle])
            #expect(try await h.status(live.id) == .idle)
            #expect(h.outputs.output(live.id)?.log.last == "broadcast end")
        }
    }
}

struct TestFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
