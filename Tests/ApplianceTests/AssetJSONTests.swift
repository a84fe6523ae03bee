import Foundation
import NIOCore
import Testing
@testable import Appliance

@Suite struct AssetJSONTests {
    func json(_ asset: Asset) throws -> [String: Any] {
        try JSONSerialization.jsonObject(with: JSONEncoder().encode(AssetJSON(asset))) as! [String: Any]
    }

    @Test func aRecordingSaysWhatItKnowsAndNoMore() throws {
        var asset = AssetSettings(json: #"{"playback_policy":["public"],"mp4_support":"standard"}"#)
            .asset(id: "a", liveStreamID: "s", format: "mpegts", now: Date(timeIntervalSince1970: 1_700_000_000)) { "id\(UUID().uuidString.prefix(4))" }
        var body = try json(asset)
        #expect(body["status"] as? String == "preparing" && body["is_live"] as? Bool == true && body["created_at"] as? String == "1700000000")
        #expect(body["resolution_tier"] == nil && body["max_stored_resolution"] == nil, "nothing known of the tracks yet")
        #expect((body["progress"] as? [String: Any])?["state"] as? String == "live")
        #expect(((body["static_renditions"] as? [String: Any])?["files"] as? [[String: Any]])?.first?["name"] as? String == "highest.mp4",
                "mp4_support stands for its renditions")
        asset.tracks = [Asset.Track(id: "v", type: .video, duration: 10, maxWidth: 1280, maxHeight: 720, maxFrameRate: 30),
                        Asset.Track(id: "a", type: .audio, duration: 10, maxChannels: 2)]
        asset.status = .ready
        asset.isLive = false
        asset.duration = 10
        asset.recordingTimes = [Asset.RecordingTime(startedAt: 1_700_000_000_123, duration: 10)]
        body = try json(asset)
        #expect(body["resolution_tier"] as? String == "720p" && body["max_stored_resolution"] as? String == "HD")
        #expect(body["aspect_ratio"] as? String == "16:9" && body["max_resolution_tier"] as? String == "1080p")
        #expect(body["ingest_type"] as? String == "live_rtmp" && body["master_access"] as? String == "none")
        #expect((body["recording_times"] as? [[String: Any]])?.first?["started_at"] as? String == "2023-11-14T22:13:20.123Z")
        #expect((body["progress"] as? [String: Any])?["progress"] as? Int == 100)
        let tracks = try #require(body["tracks"] as? [[String: Any]])
        #expect(tracks.last?["max_channel_layout"] as? String == "stereo")
        asset.tracks = [Asset.Track(id: "a", type: .audio, duration: 10, maxChannels: 1)]
        body = try json(asset)
        #expect(body["resolution_tier"] as? String == "audio-only" && body["max_stored_resolution"] as? String == "Audio only")
        asset.status = .errored
        asset.tracks = []
        body = try json(asset)
        #expect((body["errors"] as? [String: Any])?["type"] as? String == "invalid_input")
        #expect((body["progress"] as? [String: Any])?["state"] as? String == "errored")
        let webhook = try JSONSerialization.jsonObject(with: AssetJSON.webhookData(asset, warning: ("recording_disk_full", "full"))) as! [String: Any]
        #expect(webhook["created_at"] as? Int == 1_700_000_000 && (webhook["warning"] as? [String: Any])?["type"] as? String == "recording_disk_full")
    }

    @Test(arguments: [
        #"{"new_asset_settings":{"mp4_support":"bogus"}}"#,
        #"{"new_asset_settings":{"static_renditions":[{"resolution":"1080p"}]}}"#,
        #"{"new_asset_settings":{"static_renditions":[{}]}}"#,
        #"{"new_asset_settings":{"static_renditions":{"resolution":"highest"}}}"#,
        #"{"new_asset_settings":{"mp4_support":"standard","static_renditions":[{"resolution":"highest"}]}}"#,
        #"{"new_asset_settings":{"master_access":"temporary"}}"#,
        #"{"new_asset_settings":{"playback_policy":["drm"]}}"#,
        #"{"new_asset_settings":{"meta":{"title":5}}}"#,
        #"{"new_asset_settings":{"passthrough":7}}"#,
    ])
    func invalidAssetSettingsAreRefusedNamingTheField(body: String) throws {
        var request = try LiveStreamRequest(body: ByteBuffer(string: body))
        #expect(throws: MuxError.self) { _ = try request.newLiveStream() }
        do { _ = try request.newLiveStream() } catch let error as MuxError {
            #expect(error.messages.allSatisfy { $0.hasPrefix("new_asset_settings.") }, "\(error.messages)")
        }
    }

    @Test func validAssetSettingsAreKeptAsGiven() throws {
        let text = #"{"playback_policies":["public"],"static_renditions":[{"resolution":"highest"},{"resolution":"audio-only","passthrough":"p"}],"master_access":"none","input":[{"url":"x"}]}"#
        var request = try LiveStreamRequest(body: ByteBuffer(string: #"{"new_asset_settings":\#(text)}"#))
        let new = try request.newLiveStream()
        let settings = AssetSettings(json: try #require(new.newAssetSettings))
        #expect(settings.playbackPolicies == [.public])
        #expect(settings.staticRenditions.map(\.name) == [.highest, .audio] && settings.staticRenditions.last?.passthrough == "p")
    }
}
