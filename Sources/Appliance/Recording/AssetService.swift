/// The one way to change assets, for the API: the change is stored, its event published, and what
/// it means for the recording carried out (a deleted asset's recording stops and its files go).
struct AssetService: Sendable {
    let assets: AssetStore
    let recorder: Recorder
    /// Called after a playback ID changed (playback's cache of IDs).
    let playbackIDsChanged: @Sendable () -> Void

    /// Applies `passthrough` and `meta` (nil leaves a field as it is; an empty passthrough clears it).
    func update(id: String, passthrough: String?, meta: Asset.Meta?) async throws -> Asset? {
        guard let asset = try await assets.update(id: id, { asset in
            if let passthrough { asset.passthrough = passthrough.isEmpty ? nil : passthrough }
            if let meta {
                asset.meta.title = meta.title ?? asset.meta.title
                asset.meta.creatorID = meta.creatorID ?? asset.meta.creatorID
                asset.meta.externalID = meta.externalID ?? asset.meta.externalID
            }
        }) else { return nil }
        await recorder.events.publish(AssetEvent(type: .updated, asset: asset))
        return asset
    }

    /// Deletes the asset, stopping its recording if the broadcast goes on, and its files.
    func delete(id: String) async throws -> Bool {
        guard let asset = try await assets.delete(id: id) else { return false }
        await recorder.removed(asset)
        playbackIDsChanged()
        recorder.logger.info("asset deleted", metadata: ["asset_id": "\(id)", "live_stream_id": "\(asset.liveStreamID)"])
        await recorder.events.publish(AssetEvent(type: .deleted, asset: asset))
        return true
    }

    func addPlaybackID(assetID: String, policy: PlaybackID.Policy) async throws -> PlaybackID? {
        guard let playbackID = try await assets.addPlaybackID(assetID: assetID, policy: policy) else { return nil }
        playbackIDsChanged()
        if let asset = try await assets.asset(id: assetID) { await recorder.events.publish(AssetEvent(type: .updated, asset: asset)) }
        return playbackID
    }

    func deletePlaybackID(assetID: String, id: String) async throws -> Bool {
        guard try await assets.deletePlaybackID(assetID: assetID, id: id) else { return false }
        playbackIDsChanged()
        if let asset = try await assets.asset(id: assetID) { await recorder.events.publish(AssetEvent(type: .updated, asset: asset)) }
        return true
    }
}
