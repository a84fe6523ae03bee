/// The kinds of asset event, named as Mux names its webhooks (reference/mux-api.md §8.3).
enum AssetEventType: String, Sendable, CaseIterable {
    case created = "video.asset.created"
    case ready = "video.asset.ready"
    case errored = "video.asset.errored"
    case updated = "video.asset.updated"
    case deleted = "video.asset.deleted"
    case liveStreamCompleted = "video.asset.live_stream_completed"
    case warning = "video.asset.warning"
    case staticRenditionCreated = "video.asset.static_rendition.created"
    case staticRenditionReady = "video.asset.static_rendition.ready"
    case staticRenditionSkipped = "video.asset.static_rendition.skipped"
    case staticRenditionErrored = "video.asset.static_rendition.errored"
    case staticRenditionDeleted = "video.asset.static_rendition.deleted"
}

/// Something that happened to an asset, with the asset as it is now.
struct AssetEvent: Sendable {
    var type: AssetEventType
    var asset: Asset
    /// `video.asset.warning`: Mux's `data.warning {type, message}`.
    var warning: (type: String, message: String)?
    /// Static-rendition events: the rendition.
    var rendition: Asset.StaticRendition?
}

/// Where asset events go: logs, and the webhooks' outbox (App conforms).
protocol AssetEventSink: Sendable {
    func publish(_ event: AssetEvent) async
}
