/// What a new live stream is made from (CLI flags or a Mux create request).
struct NewLiveStream: Sendable {
    var reconnectWindow = LiveStream.defaultReconnectWindow
    var maxContinuousDuration = LiveStream.defaultMaxContinuousDuration
    var latencyMode = LiveStream.LatencyMode.standard
    var passthrough: String?
    var audioOnly = false
    var test = false
    var playbackPolicies: [PlaybackID.Policy] = [.public]
    var newAssetSettings: String?
    var useSlateForStandardLatency = false
    var reconnectSlateURL: String?
    var title: String?
    var simulcastTargets: [SimulcastTarget] = []
}

/// A PATCH: nil leaves a field as it is; an empty passthrough/slate URL clears it.
struct LiveStreamUpdate: Sendable {
    var passthrough: String?
    var latencyMode: LiveStream.LatencyMode?
    var reconnectWindow: Double?
    var maxContinuousDuration: Int?
    var useSlateForStandardLatency: Bool?
    var reconnectSlateURL: String?
    var title: String?
    var newAssetSettings: String?
}

/// One entry of the change feed: a change made to a live stream by the API or the CLI, written in the
/// same transaction as the change itself. The running server reads the entries it did not make itself
/// (the CLI's) and acts on them, so `onair streams delete` disconnects a live publisher like the API does.
struct LiveStreamChange: Sendable, Equatable {
    enum Kind: String, Sendable, CaseIterable {
        case created, updated, deleted, disabled, enabled, streamKeyReset = "stream_key_reset", completed
    }
    /// Rising number of the change (SQLite rowid of the feed).
    var sequence: Int64
    var kind: Kind
    /// The stream after the change (before it, for `deleted`).
    var stream: LiveStream
}
