import Foundation

/// What a live stream's `new_asset_settings` asks of the assets its broadcasts become (reference/mux-api.md
/// §5.3), read from the JSON text the stream keeps. The API validated it when it was set; fields
/// that do not apply to a recording (`input`, `encoding_tier`, `normalize_audio`...) are kept in
/// the text and ignored here.
struct AssetSettings: Sendable, Equatable {
    var playbackPolicies: [PlaybackID.Policy] = []
    var passthrough: String?
    var meta = Asset.Meta()
    var test = false
    var mp4Support: Asset.MP4Support = .none
    var masterAccess = false
    /// `static_renditions[].resolution` as rendition names, with their passthrough.
    var staticRenditions: [(name: Asset.StaticRendition.Name, passthrough: String?)] = []

    /// Resolutions of `static_renditions` that onair makes: it remuxes, never re-encodes, so only the
    /// recording itself (`highest`) and its audio.
    static let renditionNames: [String: Asset.StaticRendition.Name] = ["highest": .highest, "audio-only": .audio]

    init() {}

    init(json text: String) {
        guard let object = (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any] else { return }
        let policies = (object["playback_policies"] ?? object["playback_policy"]).map { value -> [Any] in value as? [Any] ?? [value] } ?? []
        playbackPolicies = policies.compactMap { ($0 as? String).flatMap(PlaybackID.Policy.init(rawValue:)) }
        passthrough = object["passthrough"] as? String
        if let meta = object["meta"] as? [String: Any] {
            self.meta = Asset.Meta(title: meta["title"] as? String, creatorID: meta["creator_id"] as? String,
                                   externalID: meta["external_id"] as? String)
        }
        test = object["test"] as? Bool ?? false
        mp4Support = (object["mp4_support"] as? String).flatMap(Asset.MP4Support.init(rawValue:)) ?? .none
        masterAccess = object["master_access"] as? String == "temporary"
        for item in object["static_renditions"] as? [[String: Any]] ?? [] {
            guard let name = (item["resolution"] as? String).flatMap({ Self.renditionNames[$0] }),
                  !staticRenditions.contains(where: { $0.name == name }) else { continue }
            staticRenditions.append((name, item["passthrough"] as? String))
        }
    }

    static func == (a: AssetSettings, b: AssetSettings) -> Bool {
        a.playbackPolicies == b.playbackPolicies && a.passthrough == b.passthrough && a.meta == b.meta && a.test == b.test
            && a.mp4Support == b.mp4Support && a.masterAccess == b.masterAccess
            && a.staticRenditions.map(\.name) == b.staticRenditions.map(\.name)
            && a.staticRenditions.map(\.passthrough) == b.staticRenditions.map(\.passthrough)
    }

    /// A new asset of a stream's broadcast, with these settings; `makeID` names its playback IDs and renditions.
    func asset(id: String, liveStreamID: String, format: String, now: Date, makeID: () -> String) -> Asset {
        var asset = Asset(id: id, liveStreamID: liveStreamID, createdAt: Int64(now.timeIntervalSince1970), format: format)
        asset.playbackIDs = playbackPolicies.map { PlaybackID(id: makeID(), policy: $0) }
        asset.passthrough = passthrough
        asset.meta = meta
        asset.test = test
        asset.mp4Support = mp4Support
        asset.masterAccess = masterAccess
        // `mp4_support` (deprecated) stands for renditions too; the API refuses both together.
        let renditions = staticRenditions.isEmpty ? mp4Support.renditions.map { ($0, String?.none) } : staticRenditions
        asset.staticRenditions = renditions.map {
            Asset.StaticRendition(id: makeID(), name: $0.0, status: .preparing, passthrough: $0.1)
        }
        return asset
    }
}
