/// The typed onair configuration. Every value has a documented default in etc/onair/onair.yaml;
/// `ConfigLoader` fills it from YAML and rejects unknown keys.
struct Config: Sendable, Equatable {
    /// RTMP ingest.
    struct RTMP: Sendable, Equatable {
        /// Address to listen on for RTMP publishers.
        var listen = ListenAddress(host: "0.0.0.0", port: 1935)
        /// Largest RTMP message accepted (a 4K keyframe can exceed 1 MB).
        var maxMessageSize = 8 * 1024 * 1024
        /// Most chunk streams one connection may keep open.
        var maxChunkStreams = 64
        /// Deepest AMF nesting accepted in commands and metadata.
        var maxAMFDepth = 16
        /// Chunk size the server sends with.
        var chunkSize = 4096
        /// Seconds a connection has from accept to an accepted publish.
        var handshakeTimeout = 10.0
        /// Seconds without any byte from a publisher before its connection is closed.
        var idleTimeout = 30.0
        /// Seconds without media after which a new publisher with the same key takes over.
        var takeoverAfter = 5.0
        /// Most simultaneous RTMP connections.
        var maxConnections = 1000
        /// Most streams published at once (a reconnect or takeover within a broadcast always fits).
        var maxPublishers = 500
        /// Longest a publisher may stay connected, in seconds, whatever a stream's own
        /// `max_continuous_duration` says (Mux's maximum, 12 h, by default).
        var maxContinuousDuration = 43200
    }

    /// HTTPS for playback and the Mux-compatible API; optional plain HTTP for playback only.
    struct HTTP: Sendable, Equatable {
        /// HTTPS address (API and playback).
        var listen = ListenAddress(host: "0.0.0.0", port: 443)
        /// PEM certificate chain and private key.
        var tlsCertificate = "/etc/onair/tls/onair.crt"
        var tlsKey = "/etc/onair/tls/onair.key"
        /// Plain-HTTP address serving playback only (never the API); off when nil.
        var plainListen: ListenAddress?
        /// Largest API request body accepted.
        var maxBodySize = 64 * 1024
        /// Most simultaneous HTTP(S) connections, both listeners together.
        var maxConnections = 4096
        /// Seconds from accept to a complete TLS handshake and request, and for every request's head and body.
        var requestTimeout = 10.0
        /// Seconds a kept-alive connection may wait for its next request.
        var idleTimeout = 60.0
    }

    /// Prometheus metrics, on a plain-HTTP listener of their own (never the public HTTPS port: the
    /// labels name every live stream).
    struct Metrics: Sendable, Equatable {
        /// Loopback by default, as node-exporter-style services do.
        var listen = ListenAddress(host: "127.0.0.1", port: 9464)
    }

    /// HLS packaging into tmpfs.
    struct HLS: Sendable, Equatable {
        /// Root of the per-stream directories.
        var directory = "/run/onair/hls"
        /// Target segment duration in seconds; segments cut on the first keyframe at or after it.
        var segmentDuration = 2.0
        /// Segments listed in a live playlist.
        var playlistLength = 6
        /// Segments kept on disk after leaving the playlist, for slow players.
        var deleteGraceSegments = 6
        /// Byte budget for all streams together.
        var maxBytes: Int64 = 1024 * 1024 * 1024
        /// Byte budget for one stream.
        var maxBytesPerStream: Int64 = 256 * 1024 * 1024
        /// Low-Latency HLS part target in seconds (streams with `latency_mode: low`).
        var partDuration = 0.334
        /// Requests held at once (LL-HLS blocking reloads and hinted parts) over all streams; more are answered at once.
        var maxHeldRequests = 10_000
    }

    /// Recordings of broadcasts into assets (streams with `new_asset_settings`), on disk, never tmpfs.
    struct Recordings: Sendable, Equatable {
        /// Root of the per-asset directories.
        var directory = "/var/lib/onair/recordings"
        /// Bytes all recordings together may hold (100 GiB).
        var maxBytes: Int64 = 100 * 1024 * 1024 * 1024
        /// Free bytes kept on the file system (2 GiB): a recording stops before it takes the disk below.
        var minFreeBytes: Int64 = 2 * 1024 * 1024 * 1024
        /// Segment bytes waiting for the disk, all recordings together (a disk slower than the broadcasts).
        var maxQueuedBytes: Int64 = 256 * 1024 * 1024
    }

    /// Persistent state.
    /// Thumbnails, animations and storyboards (`images:`): decoded by the ffmpeg program, each job in
    /// its own process under limits.
    struct Images: Sendable, Equatable {
        /// The ffmpeg program (Debian's `ffmpeg` package).
        var ffmpeg = "/usr/bin/ffmpeg"
        /// Decodes running at once, and how many more may wait (beyond: 503).
        var jobs = 2
        var queue = 32
        /// Seconds a decode may take (wall clock and CPU), and the address space it may use.
        var timeout = 10.0
        var maxMemory: Int64 = 1024 * 1024 * 1024
        /// Bytes of pictures kept in memory.
        var cacheBytes = 64 * 1024 * 1024
        /// How long a live stream's newest picture (`latest`, the default) is reused, in seconds.
        var latestInterval = 10.0
    }

    /// Pushing broadcasts on to their simulcast targets (`simulcast:`).
    struct Simulcast: Sendable, Equatable {
        /// Bytes queued per target before it drops to the next keyframe (a slow or stalled target).
        var queueBytes = 4 * 1024 * 1024
        /// Seconds from connecting to the target accepting the publish.
        var connectTimeout = 10.0
        /// Longest wait between reconnection attempts, in seconds.
        var maxRetry = 30.0
        /// PEM CA certificates trusted for rtmps:// targets besides the system store.
        var caFile: String?
    }

    struct Storage: Sendable, Equatable {
        /// SQLite database file.
        var database = "/var/lib/onair/onair.sqlite"
    }

    /// An API credential (HTTP Basic: id as user, secret as password).
    struct AccessToken: Sendable, Equatable {
        enum Permission: String, Sendable, Equatable, CaseIterable {
            case read = "video:read"
            case write = "video:write"
            /// Signing keys (`/system/v1`), as Mux's System permissions.
            case systemRead = "system:read"
            case systemWrite = "system:write"
        }
        enum Secret: Sendable, Equatable {
            case plain(String)
            case sha256(String)
        }
        var id: String
        var secret: Secret
        var permissions: [Permission]
    }

    /// A webhook endpoint: events are POSTed to `url`, signed with `signingSecret`.
    struct Webhook: Sendable, Equatable {
        var url: String
        /// From `signing_secret_file` (read at load and reload) or, in a dev config, `signing_secret`.
        var signingSecret: String
        /// Event types sent; nil: all.
        var events: [String]?
        /// PEM CA certificates trusted for this endpoint besides the system store.
        var caFile: String?
    }

    /// How webhooks are delivered.
    struct WebhookDelivery: Sendable, Equatable {
        /// Seconds one attempt may take (Mux: 5).
        var timeout = 5.0
        /// Seconds an event is retried before it is dropped (Mux: 24 h).
        var retryFor = 86_400.0
        /// Deliveries the outbox holds, all endpoints together; the oldest are dropped beyond it.
        var maxQueued = 100_000
    }

    /// The event types a webhook's `events:` may name (Mux's names).
    static let webhookEventTypes: Set<String> = [
        "video.live_stream.created", "video.live_stream.connected", "video.live_stream.recording", "video.live_stream.active",
        "video.live_stream.disconnected", "video.live_stream.idle", "video.live_stream.updated", "video.live_stream.enabled",
        "video.live_stream.disabled", "video.live_stream.deleted",
        "video.asset.created", "video.asset.ready", "video.asset.errored", "video.asset.updated", "video.asset.deleted",
        "video.asset.live_stream_completed", "video.asset.warning", "video.asset.static_rendition.created",
        "video.asset.static_rendition.ready", "video.asset.static_rendition.skipped", "video.asset.static_rendition.errored",
        "video.asset.static_rendition.deleted",
        "video.live_stream.simulcast_target.created", "video.live_stream.simulcast_target.idle",
        "video.live_stream.simulcast_target.starting", "video.live_stream.simulcast_target.broadcasting",
        "video.live_stream.simulcast_target.errored", "video.live_stream.simulcast_target.deleted",
    ]

    var rtmp = RTMP()
    var http = HTTP()
    var metrics = Metrics()
    var hls = HLS()
    var recordings = Recordings()
    var images = Images()
    var simulcast = Simulcast()
    var storage = Storage()
    var accessTokens: [AccessToken] = []
    /// A YAML file with more tokens in the same format (written at install time).
    var accessTokensFile: String?
    /// `environment.name` in webhooks; nil: the host name.
    var environmentName: String?
    var webhooks: [Webhook] = []
    var webhookDelivery = WebhookDelivery()
}

/// `host:port` to bind.
struct ListenAddress: Sendable, Equatable, CustomStringConvertible {
    var host: String
    var port: Int

    /// Parses `host:port`, `[v6]:port` or `:port` (all addresses).
    init?(parsing text: String) {
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]),
              (0...65535).contains(port) else { return nil }
        var host = String(text[..<colon])
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        self.host = host.isEmpty ? "0.0.0.0" : host
        self.port = port
    }

    init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
}
