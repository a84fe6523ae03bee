import Foundation

/// The kinds of lifecycle event, named as Mux names its webhooks.
enum LifecycleEventType: String, Sendable, CaseIterable {
    case created = "video.live_stream.created"
    case connected = "video.live_stream.connected"
    case recording = "video.live_stream.recording"
    case active = "video.live_stream.active"
    case disconnected = "video.live_stream.disconnected"
    case idle = "video.live_stream.idle"
    case updated = "video.live_stream.updated"
    case enabled = "video.live_stream.enabled"
    case disabled = "video.live_stream.disabled"
    case deleted = "video.live_stream.deleted"
}

/// Something that happened to a live stream, with the stream as it was at that moment.
struct LifecycleEvent: Sendable {
    /// Rising per appliance: the order events happened in.
    var sequence: UInt64
    var type: LifecycleEventType
    var stream: LiveStream
    var at: Date
}
