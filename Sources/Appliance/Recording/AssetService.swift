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

    /// Asks for a static rendition (Mux: POST static-renditions): built now for a completed asset,
    /// when the broadcast ends for a live one. Nil when the asset does not exist; the existing
    /// rendition when it was asked for already.
    func addStaticRendition(assetID: String, name: Asset.StaticRendition.Name, passthrough: String?) async throws -> Asset.StaticRendition? {
        let rendition = Asset.StaticRendition(id: Identifier.opaque(), name: name, status: .preparing, passthrough: passthrough)
        guard let asset = try await assets.update(id: assetID, { asset in
            guard !asset.staticRenditions.contains(where: { $0.name == name }) else { return }
            asset.staticRenditions.append(rendition)
        }) else { return nil }
        let stored = asset.staticRenditions.first { $0.name == name }!
        guard stored.id == rendition.id else { return stored }
        await recorder.events.publish(AssetEvent(type: .staticRenditionCreated, asset: asset, rendition: stored))
        if !asset.isLive { recorder.buildRenditions(of: assetID) }
        return stored
    }

    /// Removes a static rendition and its file; false when there was none.
    func deleteStaticRendition(assetID: String, id: String) async throws -> Bool {
        guard let (asset, removed) = try await removeRenditions(assetID: assetID, where: { $0.id == id }), let rendition = removed.first else {
            return false
        }
        await recorder.events.publish(AssetEvent(type: .staticRenditionDeleted, asset: asset, rendition: rendition))
        return true
    }

    /// `master_access` (only `none` is offered: see docs/openapi.yaml).
    func setMasterAccess(assetID: String, _ access: Bool) async throws -> Asset? {
        guard let before = try await assets.asset(id: assetID) else { return nil }
        guard before.masterAccess != access, let asset = try await assets.update(id: assetID, { $0.masterAccess = access }) else { return before }
        await recorder.events.publish(AssetEvent(type: .updated, asset: asset))
        return asset
    }

    /// Mux's deprecated `mp4_support`: the renditions it stands for are asked for, the others removed.
    func setMP4Support(assetID: String, _ support: Asset.MP4Support) async throws -> Asset? {
        let wanted = Set(support.renditions)
        guard let (_, removed) = try await removeRenditions(assetID: assetID, where: { !wanted.contains($0.name) }) else { return nil }
        for rendition in removed {
            if let asset = try await assets.asset(id: assetID) {
                await recorder.events.publish(AssetEvent(type: .staticRenditionDeleted, asset: asset, rendition: rendition))
            }
        }
        for name in support.renditions { _ = try await addStaticRendition(assetID: assetID, name: name, passthrough: nil) }
        guard let asset = try await assets.update(id: assetID, { $0.mp4Support = support }) else { return nil }
        await recorder.events.publish(AssetEvent(type: .updated, asset: asset))
        return asset
    }

    /// Takes the matching renditions off the asset and removes their files.
    private func removeRenditions(assetID: String, where matches: @escaping @Sendable (Asset.StaticRendition) -> Bool) async throws
        -> (asset: Asset, removed: [Asset.StaticRendition])? {
        guard let before = try await assets.asset(id: assetID) else { return nil }
        let removed = before.staticRenditions.filter(matches)
        guard let asset = try await assets.update(id: assetID, { asset in
            for rendition in asset.staticRenditions where matches(rendition) { asset.bytes -= rendition.fileSize ?? 0 }
            asset.staticRenditions.removeAll(where: matches)
        }) else { return nil }
        await recorder.removeFiles(removed.map(\.name.rawValue), of: assetID, bytes: removed.reduce(0) { $0 + ($1.fileSize ?? 0) })
        return (asset, removed)
    }
}
