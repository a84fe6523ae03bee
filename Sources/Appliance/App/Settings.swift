import Foundation
import Media
import NIOCore

// App maps the configuration into each module's own settings: no other layer reads Config.

extension PackagerSettings {
    init(_ hls: Config.HLS) {
        self.init(segmentDuration: hls.segmentDuration, playlistLength: hls.playlistLength,
                  deleteGraceSegments: hls.deleteGraceSegments, maxBytesPerStream: hls.maxBytesPerStream,
                  partDuration: hls.partDuration)
    }
}

extension IngestSettings {
    init(_ rtmp: Config.RTMP) {
        self.init(host: rtmp.listen.host, port: rtmp.listen.port,
                  session: RTMPConfiguration(maximumMessageSize: rtmp.maxMessageSize, maximumChunkStreams: rtmp.maxChunkStreams,
                                             maximumAMFDepth: rtmp.maxAMFDepth, outgoingChunkSize: rtmp.chunkSize),
                  handshakeTimeout: .milliseconds(Int64(rtmp.handshakeTimeout * 1000)),
                  idleTimeout: .milliseconds(Int64(rtmp.idleTimeout * 1000)),
                  maxConnections: rtmp.maxConnections)
    }
}

extension HubSettings {
    init(_ rtmp: Config.RTMP) {
        self.init(takeoverAfter: .milliseconds(Int64(rtmp.takeoverAfter * 1000)), maxPublishers: rtmp.maxPublishers,
                  maxContinuousDuration: .seconds(rtmp.maxContinuousDuration))
    }
}

extension AccessTokens.Credential {
    init(_ token: Config.AccessToken) {
        let secret: Secret = switch token.secret {
        case .plain(let text): .plain(text)
        case .sha256(let hex): .sha256(hex: hex)
        }
        self.init(id: token.id, secret: secret, permissions: Set(token.permissions.map { permission -> AccessTokens.Permission in
            switch permission {
            case .read: .read
            case .write: .write
            case .systemRead: .systemRead
            case .systemWrite: .systemWrite
            }
        }))
    }
}

extension WebhookEndpoint {
    init(_ webhook: Config.Webhook) {
        self.init(url: webhook.url, signingSecret: webhook.signingSecret, events: webhook.events.map(Set.init), caFile: webhook.caFile)
    }
}

extension WebhookSettings {
    init(_ config: Config) {
        self.init(environmentName: config.environmentName ?? ProcessInfo.processInfo.hostName,
                  timeout: .milliseconds(Int64(config.webhookDelivery.timeout * 1000)),
                  schedule: RetrySchedule(retryFor: config.webhookDelivery.retryFor),
                  maxQueued: config.webhookDelivery.maxQueued, userAgent: "onair/\(Onair.version)")
    }
}

extension WebhookJournal.Payload {
    /// A live stream's event: Mux's `object.type` is `live`, `data` the LiveStream object.
    init(_ event: LifecycleEvent) {
        self.init(objectType: "live", objectID: event.stream.id, data: LiveStreamJSON.webhookData(event.stream))
    }
}

extension LiveStreamStore: StreamDirectory {
    func activeStreams() async throws -> [LiveStream] {
        try await liveStreams(limit: .max, status: .active)
    }
}

extension LiveStreamStore: LiveStreamRepository {
    func create(_ new: NewLiveStream) async throws -> LiveStreamChange {
        try await create(new, now: Date())
    }
}

extension RecordingSettings {
    init(_ config: Config.Recordings) {
        self.init(directory: config.directory, maxBytes: config.maxBytes, minFreeBytes: config.minFreeBytes,
                  maxQueuedBytes: config.maxQueuedBytes)
    }
}

extension ImageDecoder.Settings {
    init(_ images: Config.Images) {
        self.init(ffmpeg: images.ffmpeg, jobs: images.jobs, queue: images.queue, timeout: images.timeout, memoryBytes: images.maxMemory)
    }
}

extension SimulcastPusher.Settings {
    init(_ simulcast: Config.Simulcast) {
        self.init()
        feed = RelayFeed.Settings(maximumQueuedBytes: simulcast.queueBytes)
        connectTimeout = .milliseconds(Int64(simulcast.connectTimeout * 1000))
        connection.maxRetry = .milliseconds(Int64(simulcast.maxRetry * 1000))
        connection.firstRetry = min(connection.firstRetry, connection.maxRetry)
    }
}
