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
    var log: [String] { events.withLock { $0 } }
}

final class RecordingOutputs: StreamOutputFactory {
    let made = Mutex<[String: RecordingOutput]>([:])
    func makeOutput(for stream: LiveStream) -> any StreamOutput {
        let output = RecordingOutput()
        made.withLock { $0[stream.id] = output }
        return output
    }
    func output(_ id: String) -> RecordingOutput? { made.withLock { $0[id] } }
    var count: Int { made.withLock { $0.count } }
}

final class FakePublisher: Publisher {
    let activity: Atomic<UInt64>
    let disconnected = Atomic<Bool>(false)
    init(silentFor seconds: Double = 0) {
        activity = Atomic(NIODeadline.now().uptimeNanoseconds &- UInt64(seconds * 1e9))
    }
    var lastActivityNanoseconds: UInt64 { activity.load(ordering: .relaxed) }
    func disconnect(reason: String) { disconnected.store(true, ordering: .relaxed) }
}

@Suite struct StreamHubTests {
    let store: LiveStreamStore
    let outputs = RecordingOutputs()
    let hub: StreamHub

    init() throws {
        store = try LiveStreamStore()
        hub = StreamHub(directory: store, outputs: outputs, takeoverAfter: 5, logger: Logger(label: "test"))
    }

    func stream(reconnectWindow: Double = 0) throws -> LiveStream {
        var options = NewLiveStream()
        options.reconnectWindow = reconnectWindow
        return try store.create(options)
    }

    func accepted(_ decision: PublishDecision) throws -> PublishGrant {
        guard case .accepted(let grant) = decision else { throw TestFailure("refused: \(decision)") }
        return grant
    }

    @Test func unknownKeyIsRefusedWithBadName() async throws {
        guard case .refused(let code, _) = await hub.authorise(streamKey: "nope", publisher: FakePublisher()) else {
            Issue.record("accepted an unknown key"); return
        }
        #expect(code == "NetStream.Publish.BadName")
        #expect(outputs.count == 0)
    }

    @Test func statusFollowsMediaAndTheReconnectWindow() async throws {
        let live = try stream(reconnectWindow: 0)
        let grant = try accepted(await hub.authorise(streamKey: live.streamKey, publisher: FakePublisher()))
        #expect(try store.liveStream(id: live.id)?.status == .idle, "idle until media flows")
        await hub.mediaStarted(liveStreamID: live.id, session: grant.session)
        #expect(try store.liveStream(id: live.id)?.status == .active)
        await hub.publisherEnded(liveStreamID: live.id, session: grant.session)
        try await waitFor { outputs.output(live.id)?.log.last == "broadcast end" }
        #expect(outputs.output(live.id)?.log == ["start \(grant.session)", "end \(grant.session)", "broadcast end"])
        #expect(try store.liveStream(id: live.id)?.status == .idle)
    }

    @Test func reconnectInsideTheWindowContinuesTheBroadcast() async throws {
        let live = try stream(reconnectWindow: 30)
        let first = try accepted(await hub.authorise(streamKey: live.streamKey, publisher: FakePublisher()))
        await hub.mediaStarted(liveStreamID: live.id, session: first.session)
        await hub.publisherEnded(liveStreamID: live.id, session: first.session)
        #expect(try store.liveStream(id: live.id)?.status == .active, "active during the reconnect window")
        let second = try accepted(await hub.authorise(streamKey: live.streamKey, publisher: FakePublisher()))
        #expect(second.output === first.output)
        #expect(second.session > first.session)
        #expect(outputs.count == 1)
        #expect(outputs.output(live.id)?.log == ["start \(first.session)", "end \(first.session)", "start \(second.session)"])
    }

    @Test func busyStreamRefusesASecondPublisherButASilentOneIsTakenOver() async throws {
        let live = try stream()
        let busy = FakePublisher()
        let first = try accepted(await hub.authorise(streamKey: live.streamKey, publisher: busy))
        guard case .refused(_, let reason) = await hub.authorise(streamKey: live.streamKey, publisher: FakePublisher()) else {
            Issue.record("a second publisher was accepted while the first sends media"); return
        }
        #expect(reason.contains("already"))
        let stillConnected = !busy.disconnected.load(ordering: .relaxed)
        #expect(stillConnected)

        busy.activity.store(NIODeadline.now().uptimeNanoseconds &- 6_000_000_000, ordering: .relaxed)
        let second = try accepted(await hub.authorise(streamKey: live.streamKey, publisher: FakePublisher()))
        let wasDisconnected = busy.disconnected.load(ordering: .relaxed)
        #expect(wasDisconnected)
        #expect(second.session != first.session)
        // The old connection's late goodbye changes nothing.
        await hub.publisherEnded(liveStreamID: live.id, session: first.session)
        #expect(outputs.output(live.id)?.log == ["start \(first.session)", "end \(first.session)", "start \(second.session)"])
    }

    @Test func maxPublishersRefusesANewBroadcastButNotATakeover() async throws {
        let hub = StreamHub(directory: store, outputs: outputs, takeoverAfter: 5, maxPublishers: 2, logger: Logger(label: "test"))
        let (a, b, c) = (try stream(), try stream(), try stream())
        let first = FakePublisher()
        _ = try accepted(await hub.authorise(streamKey: a.streamKey, publisher: first))
        let grantB = try accepted(await hub.authorise(streamKey: b.streamKey, publisher: FakePublisher()))
        guard case .refused(let code, _) = await hub.authorise(streamKey: c.streamKey, publisher: FakePublisher()) else {
            Issue.record("a third stream was published with max_publishers 2"); return
        }
        #expect(code == "NetStream.Publish.Rejected")
        // Taking over a silent session of a stream that is already published does not add a publisher.
        first.activity.store(NIODeadline.now().uptimeNanoseconds &- 6_000_000_000, ordering: .relaxed)
        _ = try accepted(await hub.authorise(streamKey: a.streamKey, publisher: FakePublisher()))
        // A publisher that leaves frees its place.
        await hub.publisherEnded(liveStreamID: b.id, session: grantB.session)
        _ = try accepted(await hub.authorise(streamKey: c.streamKey, publisher: FakePublisher()))
    }

    @Test func disabledStreamIsRefused() async throws {
        let live = try stream()
        try store.setStatus(id: live.id, .active)
        // Simulate disabled via SQL-free path: a store that says disabled.
        struct Disabled: StreamDirectory {
            let live: LiveStream
            func liveStream(streamKey: String) throws -> LiveStream? { var s = live; s.status = .disabled; return s }
            func setStatus(id: String, _ status: LiveStream.Status, ingestProtocol: String?) throws {}
        }
        let hub = StreamHub(directory: Disabled(live: live), outputs: outputs, takeoverAfter: 5, logger: Logger(label: "test"))
        guard case .refused = await hub.authorise(streamKey: live.streamKey, publisher: FakePublisher()) else {
            Issue.record("a disabled stream accepted a publisher"); return
        }
    }
}

struct TestFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// Polls `condition` for up to 5 s.
func waitFor(_ condition: () -> Bool) async throws {
    for _ in 0..<500 where !condition() { try await Task.sleep(for: .milliseconds(10)) }
    #expect(condition())
}
