import Foundation

/// A live stream as Mux describes it (https://docs.mux.com/api-reference#video/tag/live-streams):
/// the domain object shared by the CLI, the API and ingest. Encodes to Mux's wire JSON.
struct LiveStream: Sendable, Equatable {
    /// Mux status values.
    enum Status: String, Sendable, Codable, CaseIterable {
        case idle, active, disabled
    }

    /// Mux latency modes. reduced and low use 1 s segments until Low-Latency HLS exists.
    enum LatencyMode: String, Sendable, Codable, CaseIterable {
        case standard, reduced, low
    }

    var id: String
    var streamKey: String
    var status: Status
    /// Unix seconds.
    var createdAt: Int64
    /// Seconds a publisher may be gone before the broadcast ends (0...1800).
    var reconnectWindow: Double
    /// Longest single broadcast in seconds (60...43200).
    var maxContinuousDuration: Int
    var latencyMode: LatencyMode
    var passthrough: String?
    var audioOnly: Bool
    var test: Bool
    var playbackIDs: [PlaybackID]
    /// Set while a publisher is connected: "rtmp".
    var activeIngestProtocol: String?
    /// Settings for recorded assets, kept and echoed back as the client gave them (JSON object text).
    var newAssetSettings: String?
    var useSlateForStandardLatency = false
    var reconnectSlateURL: String?
    /// `meta.title`.
    var title: String?

    /// Defaults Mux applies when a create request leaves a field out.
    static let defaultReconnectWindow = 60.0
    static let defaultMaxContinuousDuration = 43200
    static let reconnectWindowRange = 0.0...1800.0
    static let maxContinuousDurationRange = 60...43200
}

/// A playback ID of a live stream.
struct PlaybackID: Sendable, Equatable, Codable {
    enum Policy: String, Sendable, Codable, CaseIterable {
        case `public`, signed
    }
    var id: String
    var policy: Policy
}

extension LiveStream: Encodable {
    private enum Key: String, CodingKey {
        case id, stream_key, status, created_at, reconnect_window, max_continuous_duration, latency_mode,
             passthrough, audio_only, test, playback_ids, recent_asset_ids, active_ingest_protocol,
             use_slate_for_standard_latency, reduced_latency, low_latency, new_asset_settings, reconnect_slate_url, meta
    }

    private enum MetaKey: String, CodingKey { case title }

    /// Mux's LiveStream JSON: created_at as a string of Unix seconds, snake_case names.
    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: Key.self)
        try c.encode(id, forKey: .id)
        try c.encode(streamKey, forKey: .stream_key)
        try c.encode(status.rawValue, forKey: .status)
        try c.encode(String(createdAt), forKey: .created_at)
        if reconnectWindow == reconnectWindow.rounded() {
            try c.encode(Int(reconnectWindow), forKey: .reconnect_window)
        } else {
            try c.encode(reconnectWindow, forKey: .reconnect_window)
        }
        try c.encode(maxContinuousDuration, forKey: .max_continuous_duration)
        try c.encode(latencyMode.rawValue, forKey: .latency_mode)
        try c.encode(latencyMode == .reduced, forKey: .reduced_latency)
        try c.encode(latencyMode == .low, forKey: .low_latency)
        try c.encodeIfPresent(passthrough, forKey: .passthrough)
        if audioOnly { try c.encode(true, forKey: .audio_only) }
        if test { try c.encode(true, forKey: .test) }
        try c.encode(playbackIDs, forKey: .playback_ids)
        try c.encode([String](), forKey: .recent_asset_ids)
        try c.encode(useSlateForStandardLatency, forKey: .use_slate_for_standard_latency)
        try c.encodeIfPresent(reconnectSlateURL, forKey: .reconnect_slate_url)
        if let settings = newAssetSettings, let value = try? JSONDecoder().decode(JSONValue.self, from: Data(settings.utf8)) {
            try c.encode(value, forKey: .new_asset_settings)
        }
        if let title {
            var meta = c.nestedContainer(keyedBy: MetaKey.self, forKey: .meta)
            try meta.encode(title, forKey: .title)
        }
        if status == .active { try c.encodeIfPresent(activeIngestProtocol, forKey: .active_ingest_protocol) }
    }
}
