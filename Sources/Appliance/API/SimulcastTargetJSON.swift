import Foundation

/// Mux's SimulcastTarget object: `id`, `url`, `status`, and `stream_key`, `passthrough` when set,
/// `error_severity` only while `errored`. Webhooks' `data` adds `live_stream_id`.
struct SimulcastTargetJSON: Encodable, Sendable {
    let target: SimulcastTarget
    let status: SimulcastStatus
    var liveStreamID: String?

    private enum Key: String, CodingKey { case id, url, stream_key, passthrough, status, error_severity, live_stream_id }

    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: Key.self)
        try c.encode(target.id, forKey: .id)
        try c.encode(target.url, forKey: .url)
        try c.encodeIfPresent(target.streamKey, forKey: .stream_key)
        try c.encodeIfPresent(target.passthrough, forKey: .passthrough)
        try c.encode(status.state.rawValue, forKey: .status)
        if status.state == .errored { try c.encode((status.severity ?? .normal).rawValue, forKey: .error_severity) }
        try c.encodeIfPresent(liveStreamID, forKey: .live_stream_id)
    }
}
