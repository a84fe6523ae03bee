import Foundation
import Testing
@testable import Appliance

@Suite struct LiveStreamJSONTests {
    @Test func muxJSONShape() throws {
        let stream = LiveStream(id: "abc", streamKey: "key", status: .active, createdAt: 1_609_937_654, reconnectWindow: 60,
                                maxContinuousDuration: 43200, latencyMode: .standard, passthrough: nil, audioOnly: false,
                                test: false, playbackIDs: [PlaybackID(id: "p1", policy: .public)], activeIngestProtocol: "rtmp")
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        let json = String(decoding: try encoder.encode(LiveStreamJSON(stream)), as: UTF8.self)
        #expect(json == #"{"active_ingest_protocol":"rtmp","created_at":"1609937654","id":"abc","latency_mode":"standard","low_latency":false,"max_continuous_duration":43200,"playback_ids":[{"id":"p1","policy":"public"}],"recent_asset_ids":[],"reconnect_window":60,"reduced_latency":false,"status":"active","stream_key":"key","use_slate_for_standard_latency":false}"#)
    }

    @Test func idleStreamsHaveNoIngestProtocolAndFractionalWindowsStayFractional() throws {
        var stream = LiveStream(id: "abc", streamKey: "key", status: .idle, createdAt: 1, reconnectWindow: 0.5,
                                maxContinuousDuration: 60, latencyMode: .low, passthrough: "p", audioOnly: true,
                                test: false, playbackIDs: [], activeIngestProtocol: "rtmp")
        stream.title = "Mass"
        let object = try #require(try JSONSerialization.jsonObject(with: JSONEncoder().encode(LiveStreamJSON(stream))) as? [String: Any])
        #expect(object["active_ingest_protocol"] == nil)
        #expect(object["reconnect_window"] as? Double == 0.5)
        #expect(object["low_latency"] as? Bool == true && object["audio_only"] as? Bool == true)
        #expect((object["meta"] as? [String: String]) == ["title": "Mass"])
    }
}
