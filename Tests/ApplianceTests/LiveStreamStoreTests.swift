import Foundation
import Testing
@testable import Appliance

@Suite struct LiveStreamStoreTests {
    @Test func createGetListDelete() throws {
        let store = try LiveStreamStore()
        let first = try store.create(NewLiveStream())
        var options = NewLiveStream()
        options.reconnectWindow = 30
        options.latencyMode = .low
        options.playbackPolicies = [.signed]
        let second = try store.create(options)

        #expect(first.status == .idle)
        #expect(first.id.count == 32 && first.id.allSatisfy { $0.isLetter || $0.isNumber })
        #expect(first.streamKey.count == 36 && first.streamKey.split(separator: "-").map(\.count) == [8, 4, 4, 4, 12])
        #expect(first.streamKey != second.streamKey)
        #expect(try store.liveStream(id: second.id) == second)
        #expect(try store.liveStream(streamKey: first.streamKey) == first)
        #expect(try store.liveStream(streamKey: "nope") == nil)
        #expect(try store.liveStreams().map(\.id) == [second.id, first.id], "newest first")
        #expect(try store.liveStreams(limit: 1, page: 2).map(\.id) == [first.id])
        #expect(second.playbackIDs.map(\.policy) == [.signed])

        #expect(try store.delete(id: first.id))
        #expect(try !store.delete(id: first.id))
        #expect(try store.liveStream(id: first.id) == nil)
        #expect(try store.liveStream(streamKey: first.streamKey) == nil)
    }

    @Test func resetKeyRetiresTheOldKey() throws {
        let store = try LiveStreamStore()
        let stream = try store.create(NewLiveStream())
        let reset = try #require(try store.resetStreamKey(id: stream.id))
        #expect(reset.streamKey != stream.streamKey)
        #expect(try store.liveStream(streamKey: stream.streamKey) == nil)
        #expect(try store.liveStream(streamKey: reset.streamKey)?.id == stream.id)
        #expect(try store.resetStreamKey(id: "missing") == nil)
    }

    @Test func statusChangesAndStartupReset() throws {
        let store = try LiveStreamStore()
        let stream = try store.create(NewLiveStream())
        try store.setStatus(id: stream.id, .active, ingestProtocol: "rtmp")
        #expect(try store.liveStream(id: stream.id)?.status == .active)
        #expect(try store.liveStream(id: stream.id)?.activeIngestProtocol == "rtmp")
        #expect(try store.liveStreams(status: .active).count == 1)
        try store.resetActiveStreams()
        #expect(try store.liveStream(id: stream.id)?.status == .idle)
        #expect(try store.liveStream(id: stream.id)?.activeIngestProtocol == nil)
    }

    @Test func fileDatabaseIsSharedBetweenOpenings() throws {
        let path = NSTemporaryDirectory() + "onair-store-\(UUID().uuidString)/db.sqlite"
        defer { try? FileManager.default.removeItem(atPath: (path as NSString).deletingLastPathComponent) }
        let writer = try LiveStreamStore(path: path)
        let stream = try writer.create(NewLiveStream())
        let reader = try LiveStreamStore(path: path)
        #expect(try reader.liveStream(id: stream.id) == stream)
    }

    @Test func muxJSONShape() throws {
        let stream = LiveStream(id: "abc", streamKey: "key", status: .active, createdAt: 1_609_937_654, reconnectWindow: 60,
                                maxContinuousDuration: 43200, latencyMode: .standard, passthrough: nil, audioOnly: false,
                                test: false, playbackIDs: [PlaybackID(id: "p1", policy: .public)], activeIngestProtocol: "rtmp")
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        let json = String(decoding: try encoder.encode(stream), as: UTF8.self)
        #expect(json == #"{"active_ingest_protocol":"rtmp","created_at":"1609937654","id":"abc","latency_mode":"standard","low_latency":false,"max_continuous_duration":43200,"playback_ids":[{"id":"p1","policy":"public"}],"recent_asset_ids":[],"reconnect_window":60,"reduced_latency":false,"status":"active","stream_key":"key","use_slate_for_standard_latency":false}"#)
    }

    @Test func constantTimeComparison() {
        #expect(constantTimeEquals("abc", "abc"))
        #expect(!constantTimeEquals("abc", "abd"))
        #expect(!constantTimeEquals("abc", "abcd"))
    }
}
