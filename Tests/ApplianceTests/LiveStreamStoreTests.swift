import Foundation
import Synchronization
import Testing
@testable import Appliance

@Suite struct LiveStreamStoreTests {
    /// The CLI and the server may open a new database at once, each with its own connections.
    @Test func connectionsMigratingOneNewDatabaseAtOnceAllSucceed() throws {
        for round in 0..<5 {
            let path = NSTemporaryDirectory() + "/onair-migrate-\(getpid())-\(round).sqlite"
            defer { for suffix in ["", "-wal", "-shm"] { unlink(path + suffix) } }
            let failures = Mutex<[String]>([])
            DispatchQueue.concurrentPerform(iterations: 4) { _ in
                do {
                    _ = try LiveStreamStore.openMigrated(path: path)
                } catch {
                    failures.withLock { $0.append("\(error)") }
                }
            }
            #expect(failures.withLock { $0 } == [])
        }
    }

    @Test func createGetListDelete() async throws {
        let store = LiveStreamStore()
        let first = try await store.create(NewLiveStream()).stream
        var options = NewLiveStream()
        options.reconnectWindow = 30
        options.latencyMode = .low
        options.playbackPolicies = [.signed, .public]
        let second = try await store.create(options).stream

        #expect(first.status == .idle)
        #expect(first.id.count == 32 && first.id.allSatisfy { $0.isLetter || $0.isNumber })
        #expect(first.streamKey.count == 36 && first.streamKey.split(separator: "-").map(\.count) == [8, 4, 4, 4, 12])
        #expect(first.streamKey != second.streamKey)
        #expect(try await store.liveStream(id: second.id) == second)
        #expect(try await store.liveStream(streamKey: first.streamKey) == first)
        #expect(try await store.liveStream(streamKey: "nope") == nil)
        #expect(try await store.liveStreams().map(\.id) == [second.id, first.id], "newest first")
        #expect(try await store.liveStreams().map(\.playbackIDs) == [second.playbackIDs, first.playbackIDs],
                "a page's playback IDs each with their own stream, in order")
        #expect(try await store.liveStreams(limit: 1, page: 2).map(\.id) == [first.id])
        #expect(try await store.liveStreams(limit: 100, page: .max).isEmpty, "a page past Int's range of rows is empty")
        #expect(second.playbackIDs.map(\.policy) == [.signed, .public])

        #expect(try await store.delete(id: first.id)?.stream == first)
        #expect(try await store.delete(id: first.id) == nil)
        #expect(try await store.liveStream(id: first.id) == nil)
        #expect(try await store.liveStream(streamKey: first.streamKey) == nil)
    }

    @Test func resetKeyRetiresTheOldKey() async throws {
        let store = LiveStreamStore()
        let stream = try await store.create(NewLiveStream()).stream
        let reset = try #require(try await store.resetStreamKey(id: stream.id)).stream
        #expect(reset.streamKey != stream.streamKey)
        #expect(try await store.liveStream(streamKey: stream.streamKey) == nil)
        #expect(try await store.liveStream(streamKey: reset.streamKey)?.id == stream.id)
        #expect(try await store.resetStreamKey(id: "missing") == nil)
    }

    @Test func statusChangesAndActiveStreams() async throws {
        let store = LiveStreamStore()
        let stream = try await store.create(NewLiveStream()).stream
        let active = try await store.setStatus(id: stream.id, .active, ingestProtocol: "rtmp")
        #expect(active?.status == .active && active?.activeIngestProtocol == "rtmp")
        #expect(try await store.liveStreams(status: .active).count == 1)
        #expect(try await store.activeStreams().map(\.id) == [stream.id])
        let idle = try await store.setStatus(id: stream.id, .idle, ingestProtocol: "rtmp")
        #expect(idle?.status == .idle && idle?.activeIngestProtocol == nil, "only an active stream has an ingest protocol")
        #expect(try await store.activeStreams().isEmpty)
        _ = try await store.setDisabled(id: stream.id, true)
        #expect(try await store.setStatus(id: stream.id, .active, ingestProtocol: "rtmp")?.status == .disabled,
                "a disabled stream stays disabled")
    }

    @Test func everyChangeIsInTheFeedInOrderWithItsSnapshot() async throws {
        let store = LiveStreamStore()
        #expect(try await store.latestChangeSequence() == 0)
        let created = try await store.create(NewLiveStream())
        let id = created.stream.id
        var patch = LiveStreamUpdate()
        patch.passthrough = "hello"
        _ = try await store.update(id: id, patch)
        _ = try await store.setDisabled(id: id, true)
        _ = try await store.setDisabled(id: id, false)
        _ = try await store.resetStreamKey(id: id)
        _ = try await store.complete(id: id)
        _ = try await store.addPlaybackID(liveStreamID: id, policy: .signed)
        let deleted = try #require(try await store.delete(id: id))
        let feed = try await store.changes(after: 0)
        #expect(feed.map(\.kind) == [.created, .updated, .disabled, .enabled, .streamKeyReset, .completed, .updated, .deleted])
        #expect(feed.map(\.sequence) == Array(1...8))
        #expect(feed[1].stream.passthrough == "hello")
        #expect(feed[2].stream.status == .disabled && feed[3].stream.status == .idle)
        #expect(feed.last?.stream == deleted.stream, "a deletion carries the stream as it was")
        #expect(try await store.changes(after: 6).map(\.kind) == [.updated, .deleted])
        #expect(try await store.latestChangeSequence() == 8)
        #expect(try await store.update(id: id, patch) == nil, "no entry for a stream that is gone")
        #expect(try await store.latestChangeSequence() == 8)
    }

    @Test func fileDatabaseIsSharedBetweenOpeningsAndOpenedOnFirstUse() async throws {
        let directory = NSTemporaryDirectory() + "onair-store-\(UUID().uuidString)"
        let path = directory + "/db.sqlite"
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let writer = LiveStreamStore(path: path)
        #expect(!FileManager.default.fileExists(atPath: path), "building a store does no I/O")
        let stream = try await writer.create(NewLiveStream()).stream
        let reader = LiveStreamStore(path: path)
        #expect(try await reader.liveStream(id: stream.id) == stream)
        #expect(try await reader.changes(after: 0).map(\.stream.id) == [stream.id], "the CLI's changes reach the server")
    }

    @Test func anUnopenableDatabaseNamesItsPath() async throws {
        let store = LiveStreamStore(path: "/proc/onair-cannot-be-here/db.sqlite")
        await #expect(throws: StoreError.self) { try await store.prepare() }
    }
}
