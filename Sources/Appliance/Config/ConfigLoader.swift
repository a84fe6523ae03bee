import Foundation
import Yams

/// A configuration problem, naming the key (`hls.segment_duration`) and what was wrong.
struct ConfigError: Error, CustomStringConvertible, Equatable {
    var key: String
    var message: String
    var description: String { key.isEmpty ? message : "\(key): \(message)" }
}

/// Reads YAML into ``Config``: unknown keys are errors, every error names its key.
enum ConfigLoader {
    /// Loads and validates the file at `path`.
    static func load(path: String) throws -> Config {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw ConfigError(key: "", message: "cannot read \(path): \(error.localizedDescription)")
        }
        var config = try parse(text)
        if let file = config.accessTokensFile {
            config.accessTokens += try tokensFile(file, existing: config.accessTokens)
        }
        return config
    }

    /// Reads `access_tokens_file`: a YAML list of tokens in the `access_tokens` format (the .deb
    /// generates one at install, so the conffile never holds a secret).
    private static func tokensFile(_ path: String, existing: [Config.AccessToken]) throws -> [Config.AccessToken] {
        let key = "access_tokens_file"
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw ConfigError(key: key, message: "cannot read \(path): \(error.localizedDescription)")
        }
        let node: Node?
        do {
            node = try Yams.compose(yaml: text)
        } catch {
            throw ConfigError(key: key, message: "\(path) is not valid YAML: \(error)")
        }
        guard let node else { return [] }
        let tokens = try accessTokens(node, path: "\(key)(\(path))")
        for token in tokens where existing.contains(where: { $0.id == token.id }) {
            throw ConfigError(key: key, message: "token id '\(token.id)' is also in access_tokens")
        }
        return tokens
    }

    /// Parses and validates YAML text.
    static func parse(_ text: String) throws -> Config {
        let root: Node?
        do {
            root = try Yams.compose(yaml: text)
        } catch {
            throw ConfigError(key: "", message: "not valid YAML: \(error)")
        }
        var config = Config()
        guard let root else { return config }
        let top = try Section(root, path: "")
        try top.only(["rtmp", "http", "metrics", "hls", "recordings", "images", "simulcast", "storage", "access_tokens", "access_tokens_file", "environment_name", "webhooks",
                      "webhook_delivery"])
        config.environmentName = try top.string("environment_name").flatMap { $0.isEmpty ? nil : $0 }
        if let webhooks = top.node("webhooks") {
            config.webhooks = try Self.webhooks(webhooks)
        }
        if let delivery = try top.section("webhook_delivery") {
            try delivery.only(["timeout", "retry_for", "max_queued"])
            config.webhookDelivery.timeout = try delivery.seconds("timeout", 1...60) ?? config.webhookDelivery.timeout
            config.webhookDelivery.retryFor = try delivery.seconds("retry_for", 1...(7 * 86_400)) ?? config.webhookDelivery.retryFor
            config.webhookDelivery.maxQueued = try delivery.int("max_queued", 1...10_000_000) ?? config.webhookDelivery.maxQueued
        }
        config.accessTokensFile = try top.string("access_tokens_file").flatMap { $0.isEmpty ? nil : $0 }
        if let rtmp = try top.section("rtmp") {
            try rtmp.only(["listen", "max_message_size", "max_chunk_streams", "max_amf_depth", "chunk_size",
                           "handshake_timeout", "idle_timeout", "takeover_after", "max_connections", "max_publishers",
                           "max_continuous_duration"])
            config.rtmp.listen = try rtmp.address("listen") ?? config.rtmp.listen
            config.rtmp.maxMessageSize = try rtmp.int("max_message_size", 4096...(256 * 1024 * 1024)) ?? config.rtmp.maxMessageSize
            config.rtmp.maxChunkStreams = try rtmp.int("max_chunk_streams", 4...65599) ?? config.rtmp.maxChunkStreams
            config.rtmp.maxAMFDepth = try rtmp.int("max_amf_depth", 2...256) ?? config.rtmp.maxAMFDepth
            config.rtmp.chunkSize = try rtmp.int("chunk_size", 128...65536) ?? config.rtmp.chunkSize
            config.rtmp.handshakeTimeout = try rtmp.seconds("handshake_timeout", 0.5...300) ?? config.rtmp.handshakeTimeout
            config.rtmp.idleTimeout = try rtmp.seconds("idle_timeout", 1...3600) ?? config.rtmp.idleTimeout
            config.rtmp.takeoverAfter = try rtmp.seconds("takeover_after", 0.5...600) ?? config.rtmp.takeoverAfter
            config.rtmp.maxConnections = try rtmp.int("max_connections", 1...1_000_000) ?? config.rtmp.maxConnections
            config.rtmp.maxPublishers = try rtmp.int("max_publishers", 1...100_000) ?? config.rtmp.maxPublishers
            config.rtmp.maxContinuousDuration = try rtmp.int("max_continuous_duration", 1...43200) ?? config.rtmp.maxContinuousDuration
        }
        if let http = try top.section("http") {
            try http.only(["listen", "tls", "plain_listen", "max_body_size", "max_connections", "request_timeout", "idle_timeout"])
            config.http.listen = try http.address("listen") ?? config.http.listen
            config.http.plainListen = try http.address("plain_listen")
            config.http.maxBodySize = try http.int("max_body_size", 1024...(16 * 1024 * 1024)) ?? config.http.maxBodySize
            config.http.maxConnections = try http.int("max_connections", 1...1_000_000) ?? config.http.maxConnections
            config.http.requestTimeout = try http.seconds("request_timeout", 0.5...300) ?? config.http.requestTimeout
            config.http.idleTimeout = try http.seconds("idle_timeout", 1...3600) ?? config.http.idleTimeout
            if let tls = try http.section("tls") {
                try tls.only(["certificate", "key"])
                config.http.tlsCertificate = try tls.string("certificate") ?? config.http.tlsCertificate
                config.http.tlsKey = try tls.string("key") ?? config.http.tlsKey
            }
        }
        if let hls = try top.section("hls") {
            try hls.only(["directory", "segment_duration", "playlist_length", "delete_grace_segments",
                          "max_bytes", "max_bytes_per_stream", "part_duration", "max_held_requests"])
            config.hls.directory = try hls.string("directory") ?? config.hls.directory
            config.hls.segmentDuration = try hls.seconds("segment_duration", 0.5...30) ?? config.hls.segmentDuration
            config.hls.playlistLength = try hls.int("playlist_length", 2...10000) ?? config.hls.playlistLength
            config.hls.deleteGraceSegments = try hls.int("delete_grace_segments", 0...10000) ?? config.hls.deleteGraceSegments
            config.hls.maxBytes = Int64(try hls.int("max_bytes", (1024 * 1024)...Int.max) ?? Int(config.hls.maxBytes))
            config.hls.maxBytesPerStream = Int64(try hls.int("max_bytes_per_stream", (1024 * 1024)...Int.max) ?? Int(config.hls.maxBytesPerStream))
            config.hls.partDuration = try hls.seconds("part_duration", 0.1...1) ?? config.hls.partDuration
            config.hls.maxHeldRequests = try hls.int("max_held_requests", 0...1_000_000) ?? config.hls.maxHeldRequests
        }
        if let metrics = try top.section("metrics") {
            try metrics.only(["listen"])
            config.metrics.listen = try metrics.address("listen") ?? config.metrics.listen
        }
        if let recordings = try top.section("recordings") {
            try recordings.only(["directory", "max_bytes", "min_free_bytes", "max_queued_bytes"])
            config.recordings.directory = try recordings.string("directory") ?? config.recordings.directory
            config.recordings.maxBytes = Int64(try recordings.int("max_bytes", (1024 * 1024)...Int.max) ?? Int(config.recordings.maxBytes))
            config.recordings.minFreeBytes = Int64(try recordings.int("min_free_bytes", 0...Int.max) ?? Int(config.recordings.minFreeBytes))
            config.recordings.maxQueuedBytes = Int64(try recordings.int("max_queued_bytes", (1024 * 1024)...Int.max)
                                                     ?? Int(config.recordings.maxQueuedBytes))
        }
        if let images = try top.section("images") {
            try images.only(["ffmpeg", "jobs", "queue", "timeout", "max_memory", "cache_bytes", "latest_interval"])
            config.images.ffmpeg = try images.string("ffmpeg") ?? config.images.ffmpeg
            config.images.jobs = try images.int("jobs", 1...64) ?? config.images.jobs
            config.images.queue = try images.int("queue", 0...10_000) ?? config.images.queue
            config.images.timeout = try images.seconds("timeout", 1...300) ?? config.images.timeout
            config.images.maxMemory = Int64(try images.int("max_memory", (256 * 1024 * 1024)...Int.max) ?? Int(config.images.maxMemory))
            config.images.cacheBytes = try images.int("cache_bytes", (1024 * 1024)...Int.max) ?? config.images.cacheBytes
            config.images.latestInterval = try images.seconds("latest_interval", 0...600) ?? config.images.latestInterval
        }
        if let simulcast = try top.section("simulcast") {
            try simulcast.only(["queue_bytes", "connect_timeout", "max_retry", "ca_file"])
            config.simulcast.queueBytes = try simulcast.int("queue_bytes", (64 * 1024)...(1024 * 1024 * 1024)) ?? config.simulcast.queueBytes
            config.simulcast.connectTimeout = try simulcast.seconds("connect_timeout", 1...120) ?? config.simulcast.connectTimeout
            config.simulcast.maxRetry = try simulcast.seconds("max_retry", 1...3600) ?? config.simulcast.maxRetry
            config.simulcast.caFile = try simulcast.string("ca_file").flatMap { $0.isEmpty ? nil : $0 }
            if let caFile = config.simulcast.caFile, !FileManager.default.isReadableFile(atPath: caFile) {
                throw simulcast.error("ca_file", "cannot read \(caFile)")
            }
        }
        if let storage = try top.section("storage") {
            try storage.only(["database"])
            config.storage.database = try storage.string("database") ?? config.storage.database
        }
        if let tokens = top.node("access_tokens") {
            config.accessTokens = try accessTokens(tokens, path: "access_tokens")
        }
        return config
    }

    private static func webhooks(_ node: Node) throws -> [Config.Webhook] {
        let path = "webhooks"
        guard let items = node.sequence else {
            throw ConfigError(key: path, message: "expected a list of {url, signing_secret_file, events}")
        }
        var seen = Set<String>()
        return try items.enumerated().map { index, item in
            let entry = try Section(item, path: "\(path)[\(index)]")
            try entry.only(["url", "signing_secret_file", "signing_secret", "events", "ca_file"])
            guard let url = try entry.string("url"), let parts = URLComponents(string: url), let scheme = parts.scheme?.lowercased(),
                  ["http", "https"].contains(scheme), let host = parts.host, !host.isEmpty else {
                throw entry.error("url", "expected an http:// or https:// URL")
            }
            guard seen.insert(url).inserted else { throw entry.error("url", "the same URL as an earlier entry") }
            let secret: String
            switch (try entry.string("signing_secret_file"), try entry.string("signing_secret")) {
            case (let file?, nil):
                do {
                    secret = try String(contentsOfFile: file, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
                } catch {
                    throw entry.error("signing_secret_file", "cannot read \(file): \(error.localizedDescription)")
                }
                guard secret.count >= 16 else { throw entry.error("signing_secret_file", "\(file) must hold a secret of at least 16 characters") }
            case (nil, let inline?):
                guard inline.count >= 16 else { throw entry.error("signing_secret", "must be at least 16 characters") }
                secret = inline
            default:
                throw entry.error("signing_secret_file", "give exactly one of signing_secret_file or signing_secret")
            }
            var events: [String]?
            if let list = entry.node("events") {
                guard let types = list.sequence?.compactMap(\.string), types.count == list.sequence?.count, !types.isEmpty else {
                    throw entry.error("events", "expected a list of event types such as [video.live_stream.active]")
                }
                for type in types where !Config.webhookEventTypes.contains(type) {
                    throw entry.error("events", "unknown event type '\(type)' (known: \(Config.webhookEventTypes.sorted().joined(separator: ", ")))")
                }
                events = types
            }
            let caFile = try entry.string("ca_file").flatMap { $0.isEmpty ? nil : $0 }
            if let caFile, !FileManager.default.isReadableFile(atPath: caFile) {
                throw entry.error("ca_file", "cannot read \(caFile)")
            }
            return Config.Webhook(url: url, signingSecret: secret, events: events, caFile: caFile)
        }
    }

    private static func accessTokens(_ node: Node, path: String) throws -> [Config.AccessToken] {
        guard let items = node.sequence else {
            throw ConfigError(key: path, message: "expected a list of {id, secret | secret_sha256, permissions}")
        }
        var seen = Set<String>()
        return try items.enumerated().map { index, item in
            let entry = try Section(item, path: "\(path)[\(index)]")
            try entry.only(["id", "secret", "secret_sha256", "permissions"])
            guard let id = try entry.string("id"), !id.isEmpty else { throw entry.error("id", "is required") }
            guard seen.insert(id).inserted else { throw entry.error("id", "duplicate token id '\(id)'") }
            let secret: Config.AccessToken.Secret
            switch (try entry.string("secret"), try entry.string("secret_sha256")) {
            case (let plain?, nil):
                guard plain.count >= 16 else { throw entry.error("secret", "must be at least 16 characters") }
                secret = .plain(plain)
            case (nil, let hash?):
                let hex = hash.lowercased()
                guard hex.count == 64, hex.allSatisfy(\.isHexDigit) else {
                    throw entry.error("secret_sha256", "must be 64 hexadecimal digits")
                }
                secret = .sha256(hex)
            default:
                throw entry.error("secret", "give exactly one of secret or secret_sha256")
            }
            guard let list = entry.node("permissions")?.sequence, !list.isEmpty else {
                throw entry.error("permissions", "expected a list such as [video:read] or [video:write]")
            }
            let permissions = try list.map { item -> Config.AccessToken.Permission in
                guard let raw = item.string, let permission = Config.AccessToken.Permission(rawValue: raw) else {
                    throw entry.error("permissions", "unknown permission '\(item.string ?? "?")' (use video:read, video:write, system:read or system:write)")
                }
                return permission
            }
            return Config.AccessToken(id: id, secret: secret, permissions: permissions)
        }
    }
}

/// One YAML mapping with its dotted path, for typed reads that name the key on error.
private struct Section {
    let mapping: Node.Mapping
    let path: String

    init(_ node: Node, path: String) throws {
        guard let mapping = node.mapping else {
            throw ConfigError(key: path, message: "expected a mapping of keys")
        }
        self.mapping = mapping
        self.path = path
    }

    func key(_ name: String) -> String { path.isEmpty ? name : "\(path).\(name)" }

    func error(_ name: String, _ message: String) -> ConfigError { ConfigError(key: key(name), message: message) }

    func only(_ allowed: Set<String>) throws {
        for key in mapping.keys {
            let name = key.string ?? "\(key)"
            if !allowed.contains(name) {
                throw error(name, "unknown key (allowed here: \(allowed.sorted().joined(separator: ", ")))")
            }
        }
    }

    func node(_ name: String) -> Node? {
        guard let value = mapping[Node(name)] else { return nil }
        if case .scalar(let scalar) = value, scalar.style == .plain, ["", "~", "null", "Null", "NULL"].contains(scalar.string) { return nil }
        return value
    }

    func section(_ name: String) throws -> Section? {
        try node(name).map { try Section($0, path: key(name)) }
    }

    func string(_ name: String) throws -> String? {
        guard let value = node(name) else { return nil }
        guard case .scalar(let scalar) = value else { throw error(name, "expected a string") }
        return scalar.string
    }

    func int(_ name: String, _ range: ClosedRange<Int>) throws -> Int? {
        guard let value = node(name) else { return nil }
        guard let number = value.int else { throw error(name, "expected an integer, got '\(value.string ?? "?")'") }
        guard range.contains(number) else { throw error(name, "\(number) is outside \(range.lowerBound)...\(range.upperBound)") }
        return number
    }

    func seconds(_ name: String, _ range: ClosedRange<Double>) throws -> Double? {
        guard let value = node(name) else { return nil }
        guard let number = value.float ?? value.int.map(Double.init), number.isFinite else {
            throw error(name, "expected a number of seconds, got '\(value.string ?? "?")'")
        }
        guard range.contains(number) else { throw error(name, "\(number) is outside \(range.lowerBound)...\(range.upperBound)") }
        return number
    }

    func address(_ name: String) throws -> ListenAddress? {
        guard let text = try string(name) else { return nil }
        guard let address = ListenAddress(parsing: text) else { throw error(name, "expected host:port, got '\(text)'") }
        return address
    }
}
