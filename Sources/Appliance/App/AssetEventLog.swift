import Foundation
import Logging

/// Where asset events go: a log line each, and the webhooks' outbox (signed and retried like the
/// live-stream events). `data` is the asset as the API returns it (with `created_at` a number, as
/// Mux's webhooks have it), plus `warning` for `video.asset.warning`; for static-rendition events it
/// is the rendition with its `asset_id`.
struct AssetEventLog: AssetEventSink {
    let journal: WebhookJournal
    let logger: Logger
    /// Called when playback IDs may have appeared (a new asset's): playback's cache forgets "no such ID".
    let playbackIDsChanged: @Sendable () -> Void

    func publish(_ event: AssetEvent) async {
        if event.type == .created { playbackIDsChanged() }
        logger.info("asset event", metadata: [
            "event": "\(event.type.rawValue)", "asset_id": "\(event.asset.id)", "live_stream_id": "\(event.asset.liveStreamID)",
            "status": "\(event.asset.status.rawValue)", "is_live": "\(event.asset.isLive)"])
        var data = AssetJSON.webhookData(event.asset, warning: event.warning)
        if let rendition = event.rendition { data = StaticRenditionJSON.webhookData(rendition, of: event.asset) }
        do {
            try await journal.record(type: event.type.rawValue, .init(objectType: "asset", objectID: event.asset.id, data: data), at: Date())
        } catch {
            logger.error("cannot record an asset event for the webhooks", metadata: [
                "event": "\(event.type.rawValue)", "asset_id": "\(event.asset.id)", "error": "\(error)"])
        }
    }
}
