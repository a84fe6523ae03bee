/// A simulcast target of a live stream (Mux's SimulcastTarget): where each broadcast is pushed on
/// over RTMP(S). The record the store keeps; the status belongs to the broadcast (``SimulcastStatus``).
struct SimulcastTarget: Sendable, Equatable, Codable {
    var id: String
    /// `rtmp://` or `rtmps://` with the application, e.g. `rtmp://a.rtmp.youtube.com/live2`.
    var url: String
    /// A secret: never logged.
    var streamKey: String?
    var passthrough: String?

    /// Mux allows at most this many per live stream.
    static let limit = 6
}

/// A target's state as Mux reports it: `idle` (no broadcast), `starting` (the broadcast began, the
/// target is being connected), `broadcasting`, `errored` (with a severity; retried meanwhile).
struct SimulcastStatus: Sendable, Equatable {
    enum State: String, Sendable, CaseIterable {
        case idle, starting, broadcasting, errored
    }
    /// `normal`: the connection failed or dropped. `fatal`: the target refused the app or stream key.
    enum Severity: String, Sendable {
        case normal, fatal
    }
    var state: State
    var severity: Severity?

    static let idle = SimulcastStatus(state: .idle, severity: nil)
}
