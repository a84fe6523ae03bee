import Foundation
import Testing
@testable import Appliance

@Suite struct OutboxTests {
    static func event(_ id: String, _ object: String, at: Double = 100, type: String = "video.live_stream.updated") -> Outbox.Event {
        Outbox.Event(id: id, type: type, objectType: "live", objectID: object, createdAt: at, data: Data(#"{"id":"\#(object)"}"#.utf8))
    }

    @Test func factsComeFromTheMigration() async throws {
        let outbox = Outbox(store: LiveStreamStore())
        let id = try await outbox.environmentID()
        #expect(id.count == 8 && id.allSatisfy { $0.isLowercase || $0.isNumber })
        #expect(try await outbox.environmentID() == id, "made once, kept")
        #expect(try await outbox.changeCursor() == 0)
        _ = try await outbox.record([], cursor: 42, limit: 10)
        #expect(try await outbox.changeCursor() == 42, "the cursor is recorded also without events")
    }

    @Test func headsOfEachObjectGoFirstInOrder() async throws {
        let outbox = Outbox(store: LiveStreamStore())
        _ = try await outbox.record([
            (Self.event("e1", "A"), ["x", "y"]), (Self.event("e2", "A"), ["x"]), (Self.event("e3", "B"), ["x"]),
            (Self.event("e4", "C"), []),
        ], cursor: 1, limit: 100)
        #expect(try await outbox.queued(endpoint: "x") == 3)
        #expect(try await outbox.queued(endpoint: "y") == 1)
        #expect(try await outbox.queued() == 4, "an event no endpoint takes is not kept")
        var (due, next) = try await outbox.due(endpoint: "x", now: 100, latest: 1000, limit: 10, busy: [])
        #expect(due.map(\.event.id) == ["e1", "e3"], "A's second event waits for its first")
        #expect(next == nil)
        #expect(try await outbox.due(endpoint: "x", now: 99, latest: 1000, limit: 10, busy: []).due.isEmpty, "not due before its time")
        #expect(try await outbox.due(endpoint: "x", now: 100, latest: 1000, limit: 10, busy: ["A"]).due.map(\.event.id) == ["e3"])
        #expect(try await outbox.due(endpoint: "x", now: 100, latest: 1000, limit: 1, busy: []).due.map(\.event.id) == ["e1"])

        try await outbox.failed(endpoint: "x", sequence: due[0].sequence, attempts: Data("[1]".utf8), next: 160)
        (due, next) = try await outbox.due(endpoint: "x", now: 120, latest: 1000, limit: 10, busy: [])
        #expect(due.map(\.event.id) == ["e3"], "A waits for its retry: e2 does not overtake e1")
        #expect(next == 160)
        let retry = try #require(try await outbox.due(endpoint: "x", now: 160, latest: 1000, limit: 10, busy: []).due.first)
        #expect(retry.event.id == "e1" && retry.attemptCount == 1 && retry.attempts == Data("[1]".utf8))

        try await outbox.finished(endpoint: "x", sequence: retry.sequence)
        #expect(try await outbox.due(endpoint: "x", now: 200, latest: 1000, limit: 10, busy: []).due.map(\.event.id) == ["e2", "e3"])
        #expect(try await outbox.due(endpoint: "y", now: 200, latest: 1000, limit: 10, busy: []).due.map(\.event.id) == ["e1"],
                "y still has e1: each endpoint has its own delivery")
    }

    @Test func anEventIsRecordedOnce() async throws {
        let outbox = Outbox(store: LiveStreamStore())
        _ = try await outbox.record([(Self.event("same", "A"), ["x"])], cursor: 1, limit: 100)
        _ = try await outbox.record([(Self.event("same", "A"), ["x"])], cursor: 2, limit: 100)
        #expect(try await outbox.queued() == 1)
    }

    @Test func aDueTimeFarAheadCountsAsDueTheClockWentBack() async throws {
        let outbox = Outbox(store: LiveStreamStore())
        _ = try await outbox.record([(Self.event("e1", "A"), ["x"])], cursor: 1, limit: 100)
        let first = try #require(try await outbox.due(endpoint: "x", now: 100, latest: 400, limit: 1, busy: []).due.first)
        try await outbox.failed(endpoint: "x", sequence: first.sequence, attempts: Data("[]".utf8), next: 50_000)
        #expect(try await outbox.due(endpoint: "x", now: 100, latest: 400, limit: 1, busy: []).due.map(\.event.id) == ["e1"])
        #expect(try await outbox.due(endpoint: "x", now: 100, latest: 60_000, limit: 1, busy: []).due.isEmpty)
    }

    @Test func statusesAreWrittenWithTheEvents() async throws {
        let store = LiveStreamStore()
        let outbox = Outbox(store: store)
        let live = try await store.create(NewLiveStream()).stream
        _ = try await outbox.record([(Self.event("e1", live.id), ["x"])], statuses: [(live.id, "active", "rtmp", nil)], cursor: 3, limit: 100)
        let stored = try await store.liveStream(id: live.id)
        #expect(stored?.status == .active && stored?.activeIngestProtocol == "rtmp")
        _ = try await store.setDisabled(id: live.id, true)
        _ = try await outbox.record([], statuses: [(live.id, "idle", nil, nil)], cursor: 4, limit: 100)
        #expect(try await store.liveStream(id: live.id)?.status == .disabled, "a disabled stream stays disabled")
    }

    @Test func theBoundDropsTheOldest() async throws {
        let outbox = Outbox(store: LiveStreamStore())
        let first = try await outbox.record((1...5).map { (Self.event("e\($0)", "A"), ["x"]) }, cursor: 1, limit: 3)
        #expect(first.map(\.eventID) == ["e1", "e2"])
        let second = try await outbox.record([(Self.event("e6", "B"), ["x", "y"])], cursor: 2, limit: 3)
        #expect(second.map(\.eventID) == ["e3", "e4"], "two deliveries in, two of the oldest out")
        #expect(try await outbox.queued(endpoint: "x") == 2)
        #expect(try await outbox.queued(endpoint: "y") == 1)
        #expect(try await outbox.queued() == 3)
        #expect(try await outbox.due(endpoint: "x", now: 1000, latest: 2000, limit: 10, busy: []).due.map(\.event.id) == ["e5", "e6"])
    }

    @Test func retainDropsRemovedEndpointsOnly() async throws {
        let outbox = Outbox(store: LiveStreamStore())
        _ = try await outbox.record([(Self.event("e1", "A"), ["x", "gone"]), (Self.event("e2", "B"), ["gone"])], cursor: 1, limit: 100)
        let dropped = try await outbox.retain(endpoints: ["x", "new"])
        #expect(Set(dropped.map(\.eventID)) == ["e1", "e2"] && Set(dropped.map(\.endpoint)) == ["gone"])
        #expect(try await outbox.queued() == 1)
        #expect(try await outbox.queued(endpoint: "x") == 1)
    }

    @Test func survivesReopening() async throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("onair-outbox-\(UUID().uuidString).sqlite").path
        defer { for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) } }
        let environment: String
        do {
            let outbox = Outbox(store: LiveStreamStore(path: path))
            environment = try await outbox.environmentID()
            _ = try await outbox.record([(Self.event("kept", "A"), ["x"])], cursor: 7, limit: 100)
        }
        let reopened = Outbox(store: LiveStreamStore(path: path))
        #expect(try await reopened.environmentID() == environment)
        #expect(try await reopened.changeCursor() == 7)
        #expect(try await reopened.due(endpoint: "x", now: 1000, latest: 2000, limit: 10, busy: []).due.map(\.event.id) == ["kept"])
    }
}
