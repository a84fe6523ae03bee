import Foundation

/// A recorded broadcast as Mux describes an asset (reference/mux-api.md §5.2): the record Store
/// persists, Recording fills and the API encodes as Mux JSON in ``AssetJSON``. Every asset here is
/// recorded from a live stream (`ingest_type: live_rtmp`). `Codable` for its JSON columns only.
struct Asset: Sendable, Equatable {
    enum Status: String, Sendable, Codable, CaseIterable {
        case preparing, ready, errored
    }

    /// A track as the recording saw it: sizes, frame rate, channels.
    struct Track: Sendable, Equatable, Codable {
        enum Kind: String, Sendable, Codable { case video, audio }
        var id: String
        var type: Kind
        /// Seconds of the recording this track covers.
        var duration: Double?
        var maxWidth: Int?
        var maxHeight: Int?
        var maxFrameRate: Double?
        var maxChannels: Int?

        /// Width and height, when both are known.
        var resolution: (width: Int, height: Int)? {
            guard let maxWidth, let maxHeight else { return nil }
            return (maxWidth, maxHeight)
        }
    }

    /// One stretch of recorded content: from a publisher's first segment to its last (Mux
    /// `recording_times`, `type: content`).
    struct RecordingTime: Sendable, Equatable, Codable {
        /// Unix milliseconds of the first frame.
        var startedAt: Int64
        var duration: Double
    }

    /// `meta`.
    struct Meta: Sendable, Equatable, Codable {
        var title: String?
        var creatorID: String?
        var externalID: String?
        var isEmpty: Bool { title == nil && creatorID == nil && externalID == nil }
    }

    /// A static rendition asked for (`static_renditions` or `mp4_support`) and where it stands.
    struct StaticRendition: Sendable, Equatable, Codable {
        enum Name: String, Sendable, Codable, CaseIterable {
            case highest = "highest.mp4"
            case audio = "audio.m4a"
        }
        enum Status: String, Sendable, Codable { case preparing, ready, skipped, errored }
        var id: String
        var name: Name
        var status: Status
        var passthrough: String?
        var fileSize: Int64?
        var width: Int?
        var height: Int?
        var bitrate: Int?
    }

    /// `mp4_support` (deprecated by Mux in favour of `static_renditions`).
    enum MP4Support: String, Sendable, Codable, CaseIterable {
        case none, standard, audioOnly = "audio-only", audioOnlyAndCapped = "audio-only,capped-1080p", capped = "capped-1080p"

        /// The renditions it stands for (capped-1080p is the highest rendition here: nothing is re-encoded).
        var renditions: [StaticRendition.Name] {
            switch self {
            case .none: []
            case .standard, .capped: [.highest]
            case .audioOnly: [.audio]
            case .audioOnlyAndCapped: [.highest, .audio]
            }
        }
    }

    var id: String
    var liveStreamID: String
    /// Unix seconds.
    var createdAt: Int64
    var status: Status = .preparing
    /// True while the broadcast that records it goes on.
    var isLive = true
    /// Seconds recorded (playable) so far.
    var duration: Double?
    var playbackIDs: [PlaybackID] = []
    var passthrough: String?
    var meta = Meta()
    var test = false
    var mp4Support: MP4Support = .none
    /// `master_access: temporary` asked for (the master is the recording's own playlist: see docs/openapi.yaml).
    var masterAccess = false
    var staticRenditions: [StaticRendition] = []
    var tracks: [Track] = []
    var recordingTimes: [RecordingTime] = []
    /// Media as packaged: "mpegts" or "cmaf".
    var format: String
    /// Bytes on disk (segments, init sections, renditions).
    var bytes: Int64 = 0
    /// RFC 6381 codecs of the recording (EXT-X-STREAM-INF CODECS), and its highest segment bit rate.
    var codecs: String?
    var maxBitrate: Int?
    /// The video track, if the recording has one.
    var video: Track? { tracks.first { $0.type == .video } }

    /// Why recording stopped before the broadcast ended (disk limits), as `errors.messages`.
    var warning: String?
}
