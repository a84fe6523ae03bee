import Foundation
import Synchronization
import Testing
@testable import Appliance

/// Keeps what the hub records; fails the first `failures` records.
final class RecordingJournal: EventJournal {
    let recorded = Mutex<[(types: [LifecycleEventType], statuses: [StatusChange], cursor: Int64)]>([])
    let cursor: Mutex<Int64?>
    let failures: Atomic<Int>

    init(cursor: Int64? = nil, failures: Int = 0) {
        self.cursor = Mutex(cursor)
        self.failures = Atomic(failures)
    }

    func recordedCursor() async throws -> Int64? { cursor.withLock { $0 } }

    func record(_ events: [LifecycleEvent], statuses: [StatusChange], cursor: Int64) async throws {
        if failures.load(ordering: .relaxed) > 0 {
            failures.subtract(1, ordering: .relaxed)
            throw TestFailure("disk full")
        }
        self.cursor.withLock { $0 = cursor }
        recorded.withLock { $0.append((events.map(\.type), statuses, cursor)) }
    }

    var types: [LifecycleEventType] { recorded.withLock { $0.flatMap(\.types) } }
}

@Suite struct EventJournalTests {
    /// A stream made through the service once the hub runs (so its `created` is a new change), with no reconnect window.
    static func created(on h: RunningHub) async throws -> LiveStream {
        #expect(await h.hub.ping(), "started: a change from now on is new")
        var options = NewLiveStream()
        options.reconnectWindow = 0
        return try await LiveStreamService(repository: h.store, hub: h.hub).create(options)
    }

    @Test func everyEventIsRecordedWithTheCursorOfItsChange() async throws {
        let journal = RecordingJournal()
        try await RunningHub(journal: journal).run { h in
            let live = try await Self.created(on: h)
            let change = try await h.store.latestChangeSequence()
            #expect(journal.recorded.withLock { $0.last.map { ($0.types, $0.cursor) } } ?? ([], -1) == ([.created], change),
                    "recorded, with the cursor past its change, before the API call returns")
            let (decision, session) = await h.publish(live)
            _ = try accepted(decision)
            h.hub.send(.firstMedia(session: session))
            h.hub.send(.publisherGone(session: session))
            #expect(await h.nextEvents(4) == [.connected, .recording, .disconnected, .idle])
            #expect(journal.types == [.created, .connected, .recording, .disconnected, .idle], "recorded before subscribers see them")
        }
    }

    @Test func aStatusIsWrittenInTheSameRecordAsItsEvent() async throws {
        let journal = RecordingJournal()
        try await RunningHub(journal: journal).run { h in
            let live = try await Self.created(on: h)
            let (decision, session) = await h.publish(live)
            _ = try accepted(decision)
            h.hub.send(.firstMedia(session: session))
            h.outputs.becomePlayable(live.id)
            #expect(await h.nextEvents(3) == [.connected, .recording, .active])
            #expect(try await h.status(live.id) == .idle, "the hub wrote no status itself: the journal does (this one does not)")
            h.hub.send(.publisherGone(session: session))
            #expect(await h.nextEvents(2) == [.disconnected, .idle])
            let records = journal.recorded.withLock { $0 }
            let active = try #require(records.first { $0.types.contains(.active) })
            #expect(active.statuses == [StatusChange(liveStreamID: live.id, status: .active, ingestProtocol: "rtmp")])
            let idle = try #require(records.first { $0.types.contains(.idle) })
            #expect(idle.statuses.last?.status == .idle)
            #expect(records.flatMap(\.statuses).count == 2)
        }
    }

    @Test func aRestartCarriesOutTheChangesAfterTheRecordedCursor() async throws {
        let store = LiveStreamStore()
        let before = try await store.create(NewLiveStream())  // acted on by an earlier run
        let missed = try await store.create(NewLiveStream())  // made while no server ran (the CLI), or cut off by a kill -9
        _ = try await store.setDisabled(id: missed.stream.id, true)
        let journal = RecordingJournal(cursor: before.sequence)
        try await RunningHub(store: store, journal: journal).run { h in
            var seen: [LifecycleEventType] = []
            for await event in h.events {
                seen.append(event.type)
                #expect(event.stream.id == missed.stream.id)
                if seen.count == 2 { break }
            }
            #expect(seen == [.created, .disabled])
            #expect(journal.types == [.created, .disabled])
            let newest = try await store.latestChangeSequence()
            #expect(journal.cursor.withLock { $0 } == newest)
        }
    }

    @Test func withoutARecordedCursorTheHubStartsAtTheNewestChange() async throws {
        let store = LiveStreamStore()
        _ = try await store.create(NewLiveStream())
        let journal = RecordingJournal(cursor: nil)
        try await RunningHub(store: store, journal: journal).run { h in
            #expect(await h.hub.ping())
            try await Task.sleep(for: .milliseconds(100))
            #expect(journal.types.isEmpty, "old changes are not replayed")
        }
    }

    @Test func withoutAJournalTheHubWritesStatusesItself() async throws {
        let store = LiveStreamStore()
        let live = try await store.create(NewLiveStream())
        _ = try await store.setStatus(id: live.stream.id, .active, ingestProtocol: "rtmp")
        try await RunningHub(store: store).run { h in
            #expect(await h.nextEvents(1) == [.idle])
            let status = try await store.liveStream(id: live.stream.id)?.status
            #expect(status == .idle, "written before the event went out")
        }
    }

    @Test func aStreamLeftActiveByADeadProcessBecomesIdleAndSaysSo() async throws {
        let store = LiveStreamStore()
        let live = try await store.create(NewLiveStream())
        _ = try await store.setStatus(id: live.stream.id, .active, ingestProtocol: "rtmp")
        let journal = RecordingJournal(cursor: live.sequence)
        try await RunningHub(store: store, journal: journal).run { h in
            var iterator = h.events.makeAsyncIterator()
            let event = try #require(await iterator.next())
            #expect(event.type == .idle && event.stream.status == .idle && event.stream.id == live.stream.id)
            #expect(journal.types == [.idle])
            let statuses = journal.recorded.withLock { $0.first?.statuses }
            #expect(statuses == [StatusChange(liveStreamID: live.stream.id, status: .idle, ingestProtocol: nil)],
                    "the reset is written with its event, in one record")
        }
    }

    @Test func aFailingJournalKeepsTheEventsAndRecordsThemInOrderLater() async throws {
        let journal = RecordingJournal(cursor: 0, failures: 3)
        try await RunningHub(journal: journal).run { h in
            let live = try await Self.created(on: h)
            let (decision, session) = await h.publish(live)
            _ = try accepted(decision)
            h.hub.send(.publisherGone(session: session))
            #expect(await h.nextEvents(3) == [.connected, .disconnected, .idle], "subscribers are not held up")
            for _ in 0..<100 where journal.types.count < 4 { try await Task.sleep(for: .milliseconds(20)) }
            #expect(journal.types == [.created, .connected, .disconnected, .idle], "retried on the tick, nothing lost, in order")
        }
    }
}
