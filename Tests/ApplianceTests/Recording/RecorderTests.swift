import Foundation
import Logging
import Media
import NIOCore
import Synchronization
import Testing
@testable import Appliance

/// Asset events as a webhook endpoint would see them.
final class CollectedAssetEvents: AssetEventSink {
    let events = Mutex<[AssetEvent]>([])
    func publish(_ event: AssetEvent) async { events.withLock { $0.append(event) } }
    var types: [AssetEventType] { events.withLock { $0.map(\.type) } }

    /// Waits (bounded) until an event of `type` arrived.
    func wait(for type: AssetEventType, count: Int = 1) async throws {
        let deadline = ContinuousClock.now + .seconds(20)
        while types.filter({ $0 == type }).count < count {
            guard ContinuousClock.now < deadline else { throw CancellationError() }
            try await Task.sleep(for: .milliseconds(20))
        }
    }
}

/// The recorder on a real directory and an in-memory database: an audio-only MPEG-TS broadcast
/// recorded into an asset, its limits, and a restart in the middle of a broadcast.
@Suite struct RecorderTests {
    static let aac = AudioSpecificConfig(objectType: 2, samplingFrequencyIndex: 3, channelConfiguration: 2)

    struct Harness {
        let directory: String
        let store = LiveStreamStore()
        let assets: AssetStore
        let events = CollectedAssetEvents()

        init() {
            directory = FileManager.default.temporaryDirectory.appendingPathComponent("onair-recorder-\(UUID().uuidString)").path
            assets = AssetStore(store: store)
        }

        func recorder(maxBytes: Int64 = 1 << 40) -> Recorder {
            Recorder(assets: assets, streams: store, events: events,
                     settings: RecordingSettings(directory: directory, maxBytes: maxBytes, minFreeBytes: 0), logger: Logger(label: "test"))
        }

        func stream(settings: String = #"{"playback_policies":["public"],"static_renditions":[{"resolution":"audio-only"}]}"#,
                    reconnectWindow: Double = 60) async throws -> LiveStream {
            var new = NewLiveStream()
            new.newAssetSettings = settings
            new.reconnectWindow = reconnectWindow
            return try await store.create(new).stream
        }

        /// One second of AAC frames as an MPEG-TS segment, starting at `second`.
        func segment(_ second: Int, discontinuity: Bool = false) throws -> RecordedSegment {
            var muxer = TransportStreamMuxer(video: nil, audio: RecorderTests.aac)
            var bytes = ByteBuffer()
            muxer.writeTables(into: &bytes)
            for frame in 0..<47 {
                let dts = Int64(second) * 90_000 + Int64(frame) * 1920
                try muxer.write(MediaSample(kind: .audio, dts: dts, pts: dts, isKeyframe: true,
                                            payload: ByteBuffer(bytes: [UInt8](repeating: UInt8(frame), count: 100))), into: &bytes)
            }
            return RecordedSegment(bytes: bytes, initialization: nil, duration: 47 * 1920, discontinuity: discontinuity,
                                   programDateTime: 1_700_000_000_000 + Int64(second) * 1000, video: nil, audio: .aac(RecorderTests.aac),
                                   variant: Variant(codecs: "mp4a.40.2", bandwidth: 0, averageBandwidth: 0))
        }
    }

    /// Runs `body` with the recorder's loop going.
    func running(_ recorder: Recorder, _ body: () async throws -> Void) async throws {
        let loop = Task { try await recorder.run() }
        defer { loop.cancel() }
        try await body()
    }

    @Test func aBroadcastBecomesAReadyLiveAssetThenAFinalOneWithItsRendition() async throws {
        let harness = Harness()
        let recorder = harness.recorder()
        try await running(recorder) {
            let stream = try await harness.stream()
            let recording = try #require(await recorder.makeRecorder(for: stream, format: .mpegts, segmentDuration: 1))
            var asset = try #require(try await harness.assets.asset(id: recording.assetID))
            #expect(asset.status == .preparing && asset.isLive && asset.liveStreamID == stream.id && asset.playbackIDs.count == 1)
            #expect(harness.events.types == [.created, .staticRenditionCreated])
            for second in 0..<3 { recording.record(try harness.segment(second)) }
            try await harness.events.wait(for: .ready)
            asset = try #require(try await harness.assets.asset(id: recording.assetID))
            #expect(asset.status == .ready && asset.isLive && asset.duration == 3.008)
            #expect(String(buffer: try #require(recorder.recording(of: asset.id)).eventPlaylist).contains("#EXT-X-PLAYLIST-TYPE:EVENT"))
            recording.sessionEnded()
            recording.record(try harness.segment(0, discontinuity: true))  // the encoder's clock restarted
            recording.finish()
            try await harness.events.wait(for: .staticRenditionReady)
            asset = try #require(try await harness.assets.asset(id: recording.assetID))
            #expect(!asset.isLive && asset.status == .ready && asset.duration == 4.011)
            #expect(asset.recordingTimes.count == 2, "a stretch per publisher")
            #expect(asset.tracks.map(\.type) == [.audio] && asset.tracks.first?.maxChannels == 2)
            let playlist = try MediaPlaylist(parsing: String(contentsOfFile: harness.directory + "/\(asset.id)/index.m3u8", encoding: .utf8))
            #expect(playlist.playlistType == .vod && playlist.endList && playlist.segments.count == 4)
            #expect(playlist.segments.map(\.discontinuity) == [false, false, false, true])
            let m4a = try #require(SegmentFiles.read(path: harness.directory + "/\(asset.id)/audio.m4a"))
            #expect(try BoxReader.read(m4a).map(\.type) == ["ftyp", "moov", "mdat"])
            let rendition = try #require(asset.staticRenditions.first)
            #expect(rendition.status == .ready && rendition.fileSize == Int64(m4a.readableBytes))
            let types = harness.events.types
            #expect(types.firstIndex(of: .ready)! < types.firstIndex(of: .liveStreamCompleted)!)
            #expect(types.firstIndex(of: .liveStreamCompleted)! < types.firstIndex(of: .staticRenditionReady)!)
            recording.record(try harness.segment(5))  // after the end: ignored
        }
    }

    @Test func aFullBudgetStopsTheRecordingWithAWarningAndKeepsWhatWasRecorded() async throws {
        let harness = Harness()
        let recorder = harness.recorder(maxBytes: 20_000)  // a segment is about 9 KB
        try await running(recorder) {
            let stream = try await harness.stream(settings: #"{"playback_policies":["public"]}"#)
            let recording = try #require(await recorder.makeRecorder(for: stream, format: .mpegts, segmentDuration: 1))
            for second in 0..<5 { recording.record(try harness.segment(second)) }
            recording.finish()
            try await harness.events.wait(for: .liveStreamCompleted)
            let warning = try #require(harness.events.events.withLock { $0.first { $0.type == .warning } })
            #expect(warning.warning?.type == "recording_limit_reached")
            let asset = try #require(try await harness.assets.asset(id: recording.assetID))
            #expect(!asset.isLive && asset.status == .ready && asset.duration == 2.005, "the two segments that fitted")
            #expect(asset.warning?.contains("max_bytes") == true)
        }
    }

    @Test func aRestartWithinTheWindowContinuesTheAssetAndOneAfterCompletesIt() async throws {
        let harness = Harness()
        let stream = try await harness.stream(reconnectWindow: 60)
        let first = harness.recorder()
        var assetID = ""
        try await running(first) {
            let recording = try #require(await first.makeRecorder(for: stream, format: .mpegts, segmentDuration: 1) as? AssetRecording)
            assetID = recording.assetID
            for second in 0..<2 { recording.record(try harness.segment(second)) }
            let deadline = ContinuousClock.now + .seconds(10)
            while recording.state.playlist.segments.count < 2 && ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(20)) }
            // A torn append at the moment of the crash.
            let handle = try #require(FileHandle(forWritingAtPath: harness.directory + "/\(assetID)/index.m3u8"))
            handle.seekToEndOfFile()
            handle.write(Data("#EXTINF:1.0".utf8))
            try handle.close()
        }
        // The process died: a new recorder, the same database and directory.
        let second = harness.recorder()
        try await running(second) {
            let recording = try #require(await second.makeRecorder(for: stream, format: .mpegts, segmentDuration: 1) as? AssetRecording)
            #expect(recording.assetID == assetID, "the interrupted asset continues")
            #expect(recording.state.playlist.segments.count == 2 && recording.state.pendingDiscontinuity)
            recording.record(try harness.segment(0))
            recording.finish()
            try await harness.events.wait(for: .liveStreamCompleted)
            let asset = try #require(try await harness.assets.asset(id: assetID))
            #expect(!asset.isLive && abs((asset.duration ?? 0) - 3.008) < 0.002, "the playlist keeps durations to the millisecond")
        }
        // Left live by a crash with a window long gone: the next broadcast completes it and starts anew.
        let stale = try await harness.stream(reconnectWindow: 0)
        let third = harness.recorder()
        try await running(third) {
            let old = try #require(await third.makeRecorder(for: stale, format: .mpegts, segmentDuration: 1))
            old.record(try harness.segment(0))
            let deadline = ContinuousClock.now + .seconds(10)
            while (try? await harness.assets.asset(id: old.assetID))?.bytes ?? 0 == 0 && ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(20))
            }
        }
        let fourth = harness.recorder()
        try await running(fourth) {
            let before = try #require(try await harness.assets.assets(liveStreamID: stale.id).first)
            try await harness.events.wait(for: .liveStreamCompleted, count: 2)  // the sweep completes it
            let completed = try #require(try await harness.assets.asset(id: before.id))
            #expect(!completed.isLive && completed.duration == 1.003)
        }
    }
}

@Suite struct AssetStoreTests {
    @Test func assetsTheirPlaybackIDsAndTheStreamsRecentAssets() async throws {
        let store = LiveStreamStore()
        let assets = AssetStore(store: store)
        let stream = try await store.create(NewLiveStream()).stream
        var ids: [String] = []
        for index in 0..<12 {
            var settings = AssetSettings(json: #"{"playback_policy":"public","passthrough":"p","meta":{"title":"t"}}"#)
            settings.test = index == 0
            let asset = settings.asset(id: "asset\(index)", liveStreamID: stream.id, format: "mpegts", now: Date()) { Identifier.opaque() }
            try await assets.create(asset)
            ids.append(asset.id)
        }
        let first = try #require(try await assets.asset(id: "asset0"))
        #expect(first.passthrough == "p" && first.meta.title == "t" && first.test && first.playbackIDs.map(\.policy) == [.public])
        #expect(try await assets.assets(limit: 5).map(\.id) == ids.reversed().prefix(5).map { $0 }, "newest first")
        #expect(try await assets.assets(limit: 5, page: 3).count == 2)
        #expect(try await assets.assets(liveStreamID: "other").isEmpty)
        #expect(try await store.liveStream(id: stream.id)?.recentAssetIDs == Array(ids.suffix(10)), "the newest ten, oldest first")
        let playback = try #require(try await assets.addPlaybackID(assetID: "asset1", policy: .signed))
        let target = try await store.playbackTarget(playback.id)
        #expect(target?.target == .asset("asset1") && target?.playbackID.policy == .signed)
        #expect(try await assets.deletePlaybackID(assetID: "asset1", id: playback.id))
        #expect(try await store.playbackTarget(playback.id) == nil)
        let updated = try await assets.update(id: "asset2") { $0.duration = 12.5; $0.isLive = false }
        #expect(updated?.duration == 12.5 && updated?.isLive == false)
        #expect(try await assets.asset(id: "asset2")?.duration == 12.5)
        #expect(try await assets.delete(id: "asset2")?.id == "asset2")
        #expect(try await assets.asset(id: "asset2") == nil)
        #expect(try await assets.delete(id: "asset2") == nil)
        #expect(try await assets.liveAssets().count == 11)
        _ = try await store.delete(id: stream.id)
        #expect(try await assets.asset(id: "asset3") != nil, "deleting the stream keeps its assets")
    }
}
