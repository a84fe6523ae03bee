import Foundation

/// An ``Asset`` in Mux's wire JSON (reference/mux-api.md §5.2): what a recording can know, filled
/// truthfully. Quality fields describe the recording as it was ingested: onair never re-encodes, so
/// `resolution_tier` and `max_stored_resolution` are those of the broadcast itself.
struct AssetJSON: Encodable, Sendable {
    let asset: Asset
    /// Webhooks' `data` has `created_at` as a number, as Mux's webhooks do (the API's is a string).
    let createdAtAsNumber: Bool
    /// `video.asset.warning`'s `data.warning`.
    let warning: (type: String, message: String)?

    init(_ asset: Asset, createdAtAsNumber: Bool = false, warning: (type: String, message: String)? = nil) {
        self.asset = asset
        self.createdAtAsNumber = createdAtAsNumber
        self.warning = warning
    }

    /// The JSON of `asset` as a webhook's `data`.
    static func webhookData(_ asset: Asset, warning: (type: String, message: String)? = nil) -> Data {
        LiveStreamJSON.webhookBody(AssetJSON(asset, createdAtAsNumber: true, warning: warning))
    }

    private enum Key: String, CodingKey {
        case id, created_at, status, duration, playback_ids, live_stream_id, is_live, recording_times, master_access, mp4_support,
             static_renditions, resolution_tier, max_resolution_tier, encoding_tier, video_quality, max_stored_resolution,
             max_stored_frame_rate, aspect_ratio, tracks, errors, ingest_type, progress, passthrough, meta, test, warning
    }

    private struct Warning: Encodable {
        let type: String
        let message: String
    }

    private struct StaticRenditions: Encodable {
        let status: String
        let files: [StaticRenditionJSON]
    }

    private struct Track: Encodable {
        let id: String
        let type: String
        let duration: Double?
        let max_width: Int?
        let max_height: Int?
        let max_frame_rate: Double?
        let max_channels: Int?
        let max_channel_layout: String?
        let primary: Bool
    }

    private struct RecordingTime: Encodable {
        let started_at: String
        let duration: Double
        let type = "content"
    }

    private struct Progress: Encodable {
        let state: String
        let progress: Int
    }

    private struct Errors: Encodable {
        let type: String
        let messages: [String]
    }

    private struct Meta: Encodable {
        let title: String?
        let creator_id: String?
        let external_id: String?
    }

    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: Key.self)
        try c.encode(asset.id, forKey: .id)
        if createdAtAsNumber { try c.encode(asset.createdAt, forKey: .created_at) } else { try c.encode(String(asset.createdAt), forKey: .created_at) }
        try c.encode(asset.status.rawValue, forKey: .status)
        try c.encodeIfPresent(asset.duration, forKey: .duration)
        try c.encode(asset.playbackIDs.map(PlaybackIDJSON.init), forKey: .playback_ids)
        try c.encode(asset.liveStreamID, forKey: .live_stream_id)
        try c.encode(asset.isLive, forKey: .is_live)
        try c.encode(asset.recordingTimes.map {
            RecordingTime(started_at: Self.timestamp(milliseconds: $0.startedAt), duration: ($0.duration * 1000).rounded() / 1000)
        }, forKey: .recording_times)
        try c.encode(asset.masterAccess ? "temporary" : "none", forKey: .master_access)
        try c.encode(asset.mp4Support.rawValue, forKey: .mp4_support)
        let files = asset.staticRenditions.map { StaticRenditionJSON($0, asset: asset) }
        try c.encode(StaticRenditions(status: Self.renditionsStatus(asset.staticRenditions), files: files), forKey: .static_renditions)
        let video = asset.video
        let shortSide = video?.resolution.map { min($0.width, $0.height) }
        // Before the first segment nothing is known of the tracks: no tier is claimed.
        if !asset.tracks.isEmpty { try c.encode(Self.resolutionTier(shortSide: shortSide, hasVideo: video != nil), forKey: .resolution_tier) }
        let tier = Self.resolutionTier(shortSide: shortSide, hasVideo: true)
        try c.encode(tier == "1440p" || tier == "2160p" ? tier : "1080p", forKey: .max_resolution_tier)
        try c.encode("baseline", forKey: .encoding_tier)
        try c.encode("basic", forKey: .video_quality)
        if !asset.tracks.isEmpty { try c.encode(Self.storedResolution(shortSide: shortSide, hasVideo: video != nil), forKey: .max_stored_resolution) }
        if let video {
            try c.encode(video.maxFrameRate ?? -1, forKey: .max_stored_frame_rate)
            if let width = video.maxWidth, let height = video.maxHeight, width > 0, height > 0 {
                let divisor = Self.gcd(width, height)
                try c.encode("\(width / divisor):\(height / divisor)", forKey: .aspect_ratio)
            }
        }
        try c.encode(asset.tracks.map { track in
            Track(id: track.id, type: track.type.rawValue, duration: track.duration, max_width: track.maxWidth, max_height: track.maxHeight,
                  max_frame_rate: track.maxFrameRate, max_channels: track.maxChannels,
                  max_channel_layout: track.maxChannels.map { $0 == 1 ? "mono" : $0 == 2 ? "stereo" : $0 == 6 ? "5.1" : "\($0) channels" },
                  primary: true)
        }, forKey: .tracks)
        if asset.status == .errored {
            try c.encode(Errors(type: "invalid_input", messages: [asset.warning ?? "No media was recorded from the broadcast"]), forKey: .errors)
        }
        try c.encode("live_rtmp", forKey: .ingest_type)
        try c.encode(asset.isLive ? Progress(state: "live", progress: -1)
                     : asset.status == .errored ? Progress(state: "errored", progress: -1) : Progress(state: "completed", progress: 100),
                     forKey: .progress)
        try c.encodeIfPresent(asset.passthrough, forKey: .passthrough)
        if !asset.meta.isEmpty {
            try c.encode(Meta(title: asset.meta.title, creator_id: asset.meta.creatorID, external_id: asset.meta.externalID), forKey: .meta)
        }
        if asset.test { try c.encode(true, forKey: .test) }
        if let warning { try c.encode(Warning(type: warning.type, message: warning.message), forKey: .warning) }
    }

    /// `static_renditions.status`: disabled with none, preparing while one is, errored when one failed.
    static func renditionsStatus(_ renditions: [Asset.StaticRendition]) -> String {
        if renditions.isEmpty { return "disabled" }
        if renditions.contains(where: { $0.status == .preparing }) { return "preparing" }
        if renditions.contains(where: { $0.status == .errored }) { return "errored" }
        return "ready"
    }

    /// Mux's tiers by the picture's shorter side (a 1280x720 picture is 720p).
    static func resolutionTier(shortSide: Int?, hasVideo: Bool) -> String {
        guard hasVideo else { return "audio-only" }
        guard let side = shortSide else { return "1080p" }
        return side <= 720 ? "720p" : side <= 1080 ? "1080p" : side <= 1440 ? "1440p" : "2160p"
    }

    /// `max_stored_resolution`: SD below 720 lines, HD to 1080, FHD to 2160, UHD beyond.
    static func storedResolution(shortSide: Int?, hasVideo: Bool) -> String {
        guard hasVideo else { return "Audio only" }
        guard let side = shortSide else { return "HD" }
        return side < 720 ? "SD" : side < 1080 ? "HD" : side < 2160 ? "FHD" : "UHD"
    }

    private static func gcd(_ a: Int, _ b: Int) -> Int { b == 0 ? a : gcd(b, a % b) }

    /// ISO-8601 with milliseconds and Z.
    static func timestamp(milliseconds: Int64) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter.string(from: Date(timeIntervalSince1970: Double(milliseconds) / 1000))
    }
}

/// Mux's StaticRendition object (`static_renditions.files[]`).
struct StaticRenditionJSON: Encodable, Sendable {
    let id: String
    let name: String
    let ext: String
    let type = "standard"
    let status: String
    let resolution: String
    let resolution_tier: String?
    let width: Int?
    let height: Int?
    let bitrate: Int?
    let filesize: String?
    let passthrough: String?
    /// Webhooks only: the asset it belongs to.
    let asset_id: String?

    init(_ rendition: Asset.StaticRendition, asset: Asset? = nil, assetID: String? = nil) {
        id = rendition.id
        name = rendition.name.rawValue
        ext = rendition.name == .audio ? "m4a" : "mp4"
        status = rendition.status.rawValue
        resolution = rendition.name == .audio ? "audio-only" : "highest"
        let video = asset?.video
        let shortSide = video?.resolution.map { min($0.width, $0.height) }
        resolution_tier = rendition.name == .audio ? "audio-only"
            : asset.map { $0.tracks.isEmpty } ?? true ? nil : AssetJSON.resolutionTier(shortSide: shortSide, hasVideo: video != nil)
        width = rendition.width
        height = rendition.height
        bitrate = rendition.bitrate
        filesize = rendition.fileSize.map(String.init)
        passthrough = rendition.passthrough
        asset_id = assetID
    }

    /// The JSON of a rendition as a static-rendition webhook's `data`: as the API shows it, with `asset_id`.
    static func webhookData(_ rendition: Asset.StaticRendition, of asset: Asset) -> Data {
        LiveStreamJSON.webhookBody(StaticRenditionJSON(rendition, asset: asset, assetID: asset.id))
    }
}
