/// A live stream as Mux describes it (https://docs.mux.com/api-reference#video/tag/live-streams): the
/// record every layer shares (Store persists it, Streams runs its broadcasts, the API encodes it as
/// Mux JSON in ``LiveStreamJSON``). `Codable` only for the change feed's snapshots, not for the wire.
struct LiveStream: Sendable, Equatable, Codable {
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
    /// The asset recording the current (or last) broadcast, when `new_asset_settings` asks for recordings.
    var activeAssetID: String?
    /// The stream's newest assets, oldest first (read from the assets; nil in change-feed snapshots of old versions).
    var recentAssetIDs: [String]?
    /// Where each broadcast is pushed on (nil in change-feed snapshots of old versions).
    var simulcastTargets: [SimulcastTarget]?

    /// Whether its broadcasts are recorded into assets.
    var records: Bool { newAssetSettings != nil }

    /// Defaults Mux applies when a create request leaves a field out.
    static let defaultReconnectWindow = 60.0
    static let defaultMaxContinuousDuration = 43200
    static let reconnectWindowRange = 0.0...1800.0
    static let maxContinuousDurationRange = 60...43200
    /// Assets listed in `recent_asset_ids`.
    static let recentAssetLimit = 10
}

/// A playback ID of a live stream.
struct PlaybackID: Sendable, Equatable, Codable {
    enum Policy: String, Sendable, Codable, CaseIterable {
        case `public`, signed
    }
    var id: String
    var policy: Policy
}

/// What a playback ID plays.
enum PlaybackTarget: Sendable, Equatable, Hashable {
    case liveStream(String)
    case asset(String)
}
