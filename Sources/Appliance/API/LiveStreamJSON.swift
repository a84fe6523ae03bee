import Foundation

/// A ``LiveStream`` in Mux's wire JSON (https://docs.mux.com/api-reference#video/tag/live-streams):
/// snake_case names, `created_at` as a string of Unix seconds. The API, the CLI's `--json` and the
/// lifecycle events' consumers all print streams through it.
struct LiveStreamJSON: Encodable, Sendable {
    let stream: LiveStream
    /// Webhooks' `data` has `created_at` as a number of Unix seconds, as Mux's webhooks do (the
    /// API's is a string): reference/mux-api.md §8.2.
    let createdAtAsNumber: Bool
    /// Each simulcast target's status now (idle when not given: the CLI, the hub's events).
    let simulcastStatus: @Sendable (String) -> SimulcastStatus

    init(_ stream: LiveStream) {
        self.init(stream, createdAtAsNumber: false)
    }

    init(_ stream: LiveStream, createdAtAsNumber: Bool = false, simulcastStatus: @escaping @Sendable (String) -> SimulcastStatus = { _ in .idle }) {
        self.stream = stream
        self.createdAtAsNumber = createdAtAsNumber
        self.simulcastStatus = simulcastStatus
    }

    /// The JSON of `stream` as a webhook's `data`.
    static func webhookData(_ stream: LiveStream) -> Data {
        webhookBody(LiveStreamJSON(stream, createdAtAsNumber: true))
    }

    /// A webhook's `data` as every object's is written: sorted keys, slashes unescaped.
    static func webhookBody<T: Encodable>(_ value: T) -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return (try? encoder.encode(value)) ?? Data("{}".utf8)
    }

    private enum Key: String, CodingKey {
        case id, stream_key, status, created_at, reconnect_window, max_continuous_duration, latency_mode,
             passthrough, audio_only, test, playback_ids, recent_asset_ids, active_asset_id, active_ingest_protocol,
             use_slate_for_standard_latency, reduced_latency, low_latency, new_asset_settings, reconnect_slate_url, meta,
             simulcast_targets
    }

    private enum MetaKey: String, CodingKey { case title }

    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: Key.self)
        try c.encode(stream.id, forKey: .id)
        try c.encode(stream.streamKey, forKey: .stream_key)
        try c.encode(stream.status.rawValue, forKey: .status)
        if createdAtAsNumber {
            try c.encode(stream.createdAt, forKey: .created_at)
        } else {
            try c.encode(String(stream.createdAt), forKey: .created_at)
        }
        if stream.reconnectWindow == stream.reconnectWindow.rounded() {
            try c.encode(Int(stream.reconnectWindow), forKey: .reconnect_window)
        } else {
            try c.encode(stream.reconnectWindow, forKey: .reconnect_window)
        }
        try c.encode(stream.maxContinuousDuration, forKey: .max_continuous_duration)
        try c.encode(stream.latencyMode.rawValue, forKey: .latency_mode)
        try c.encode(stream.latencyMode == .reduced, forKey: .reduced_latency)
        try c.encode(stream.latencyMode == .low, forKey: .low_latency)
        try c.encodeIfPresent(stream.passthrough, forKey: .passthrough)
        if stream.audioOnly { try c.encode(true, forKey: .audio_only) }
        if stream.test { try c.encode(true, forKey: .test) }
        try c.encode(stream.playbackIDs.map(PlaybackIDJSON.init), forKey: .playback_ids)
        try c.encode(stream.recentAssetIDs ?? [], forKey: .recent_asset_ids)
        try c.encodeIfPresent(stream.activeAssetID, forKey: .active_asset_id)
        try c.encode(stream.useSlateForStandardLatency, forKey: .use_slate_for_standard_latency)
        try c.encodeIfPresent(stream.reconnectSlateURL, forKey: .reconnect_slate_url)
        if let settings = stream.newAssetSettings, let value = try? JSONDecoder().decode(JSONValue.self, from: Data(settings.utf8)) {
            try c.encode(value, forKey: .new_asset_settings)
        }
        if let title = stream.title {
            var meta = c.nestedContainer(keyedBy: MetaKey.self, forKey: .meta)
            try meta.encode(title, forKey: .title)
        }
        if stream.status == .active { try c.encodeIfPresent(stream.activeIngestProtocol, forKey: .active_ingest_protocol) }
        // Absent when there are none, as in Mux's own examples.
        if let targets = stream.simulcastTargets, !targets.isEmpty {
            try c.encode(targets.map { SimulcastTargetJSON(target: $0, status: simulcastStatus($0.id)) }, forKey: .simulcast_targets)
        }
    }

    /// Pretty, sorted JSON text of `value` (the CLI's `--json`).
    static func text<T: Encodable>(_ value: T) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(value), as: UTF8.self)
    }
}

/// Mux's PlaybackID object: `{"id", "policy"}`.
struct PlaybackIDJSON: Encodable, Sendable {
    let id: String
    let policy: String

    init(_ playbackID: PlaybackID) {
        id = playbackID.id
        policy = playbackID.policy.rawValue
    }
}
