import Foundation
import Testing
@testable import Appliance

@Suite struct ConfigLoaderTests {
    @Test func emptyFileGivesTheDefaults() throws {
        #expect(try ConfigLoader.parse("") == Config())
        #expect(try ConfigLoader.parse("# nothing\n") == Config())
    }

    @Test func shippedConfigsAreValidAndMatchTheDefaults() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let production = try ConfigLoader.load(path: root.appendingPathComponent("etc/onair/onair.yaml").path)
        #expect(production == Config(), "etc/onair/onair.yaml documents the defaults")
        let dev = try ConfigLoader.load(path: root.appendingPathComponent("etc/onair/onair.dev.yaml").path)
        #expect(dev.rtmp.listen == ListenAddress(host: "127.0.0.1", port: 1935))
    }

    @Test func readsEveryContractKey() throws {
        let config = try ConfigLoader.parse("""
            rtmp:
              listen: "[::1]:1936"
              max_message_size: 1048576
            http:
              listen: ":8443"
              tls: {certificate: /c.pem, key: /k.pem}
            hls:
              directory: /dev/shm/x
              segment_duration: 1.5
              playlist_length: 10
            storage:
              database: /tmp/x.sqlite
            access_tokens:
              - id: app
                secret: 0123456789abcdef0123
                permissions: [video:write]
              - id: viewer
                secret_sha256: \(String(repeating: "ab", count: 32))
                permissions: [video:read]
            """)
        #expect(config.rtmp.listen == ListenAddress(host: "::1", port: 1936))
        #expect(config.rtmp.maxMessageSize == 1_048_576)
        #expect(config.http.listen == ListenAddress(host: "0.0.0.0", port: 8443))
        #expect(config.http.tlsCertificate == "/c.pem" && config.http.tlsKey == "/k.pem")
        #expect(config.hls.directory == "/dev/shm/x" && config.hls.segmentDuration == 1.5 && config.hls.playlistLength == 10)
        #expect(config.storage.database == "/tmp/x.sqlite")
        #expect(config.accessTokens.map(\.id) == ["app", "viewer"])
        #expect(config.accessTokens[0].secret == .plain("0123456789abcdef0123"))
        #expect(config.accessTokens[1].permissions == [.read])
    }

    @Test(arguments: [
        ("rtmp:\n  lisen: x", "rtmp.lisen"),
        ("bogus: 1", "bogus"),
        ("hls:\n  segment_duration: fast", "hls.segment_duration"),
        ("hls:\n  segment_duration: 0", "hls.segment_duration"),
        ("hls:\n  playlist_length: 1", "hls.playlist_length"),
        ("rtmp:\n  listen: nowhere", "rtmp.listen"),
        ("rtmp:\n  listen: 1.2.3.4:99999", "rtmp.listen"),
        ("rtmp: 5", "rtmp"),
        ("access_tokens:\n  - id: a\n    secret: short\n    permissions: [video:read]", "access_tokens[0].secret"),
        ("access_tokens:\n  - id: a\n    secret: 0123456789abcdef0\n    permissions: [video:admin]", "access_tokens[0].permissions"),
        ("access_tokens:\n  - id: a\n    secret_sha256: xyz\n    permissions: [video:read]", "access_tokens[0].secret_sha256"),
        ("access_tokens:\n  - secret: 0123456789abcdef0\n    permissions: [video:read]", "access_tokens[0].id"),
        ("access_tokens:\n  - {id: a, secret: 0123456789abcdef0, permissions: [video:read]}\n  - {id: a, secret: 0123456789abcdef0, permissions: [video:read]}", "access_tokens[1].id"),
        ("access_tokens: {}", "access_tokens"),
        ("webhooks: {}", "webhooks"),
        ("webhooks:\n  - url: ftp://x/\n    signing_secret: 0123456789abcdef", "webhooks[0].url"),
        ("webhooks:\n  - url: https://\n    signing_secret: 0123456789abcdef", "webhooks[0].url"),
        ("webhooks:\n  - url: https://a/\n    signing_secret: short", "webhooks[0].signing_secret"),
        ("webhooks:\n  - url: https://a/", "webhooks[0].signing_secret_file"),
        ("webhooks:\n  - url: https://a/\n    signing_secret: 0123456789abcdef\n    signing_secret_file: /x", "webhooks[0].signing_secret_file"),
        ("webhooks:\n  - url: https://a/\n    signing_secret_file: /nonexistent/secret", "webhooks[0].signing_secret_file"),
        ("webhooks:\n  - url: https://a/\n    signing_secret: 0123456789abcdef\n    events: [video.live_stream.actve]", "webhooks[0].events"),
        ("webhooks:\n  - url: https://a/\n    signing_secret: 0123456789abcdef\n    events: []", "webhooks[0].events"),
        ("webhooks:\n  - url: https://a/\n    signing_secret: 0123456789abcdef\n    ca_file: /nonexistent.pem", "webhooks[0].ca_file"),
        ("webhooks:\n  - {url: https://a/, signing_secret: 0123456789abcdef}\n  - {url: https://a/, signing_secret: 0123456789abcdef}", "webhooks[1].url"),
        ("webhooks:\n  - url: https://a/\n    secret: 0123456789abcdef", "webhooks[0].secret"),
        ("webhook_delivery:\n  timeout: 0", "webhook_delivery.timeout"),
        ("images:\n  jobs: 0", "images.jobs"),
        ("images:\n  timeout: 0.5", "images.timeout"),
        ("images:\n  max_memory: 1000", "images.max_memory"),
        ("images:\n  cache_bytes: 10", "images.cache_bytes"),
        ("images:\n  decoders: 2", "images.decoders"),
        ("webhook_delivery:\n  max_queued: 0", "webhook_delivery.max_queued"),
    ])
    func errorsNameTheKey(yaml: String, key: String) {
        do {
            _ = try ConfigLoader.parse(yaml)
            Issue.record("accepted: \(yaml)")
        } catch let error as ConfigError {
            #expect(error.key == key, "\(error)")
        } catch {
            Issue.record("unexpected \(error)")
        }
    }

    @Test func readsWebhooksWithSecretsFromFiles() throws {
        let secretFile = FileManager.default.temporaryDirectory.appendingPathComponent("onair-secret-\(UUID().uuidString)")
        try "whsec-from-a-file-0123\n".write(to: secretFile, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: secretFile) }
        let config = try ConfigLoader.parse("""
            environment_name: Main hall
            webhooks:
              - url: https://app.example/mux-webhooks?token=abc
                signing_secret_file: \(secretFile.path)
                events: [video.live_stream.active, video.live_stream.idle]
              - url: http://10.0.0.5:8080/hooks
                signing_secret: dev-secret-0123456789
            webhook_delivery:
              timeout: 3
              retry_for: 3600
              max_queued: 500
            """)
        #expect(config.environmentName == "Main hall")
        #expect(config.webhooks.count == 2)
        #expect(config.webhooks[0].signingSecret == "whsec-from-a-file-0123", "the file's secret, without its newline")
        #expect(config.webhooks[0].events == ["video.live_stream.active", "video.live_stream.idle"])
        #expect(config.webhooks[1].events == nil && config.webhooks[1].signingSecret == "dev-secret-0123456789")
        #expect(config.webhookDelivery == Config.WebhookDelivery(timeout: 3, retryFor: 3600, maxQueued: 500))
        let endpoint = WebhookEndpoint(config.webhooks[0])
        #expect(endpoint.accepts("video.live_stream.active") && !endpoint.accepts("video.live_stream.created"))
        #expect(endpoint.label.hasPrefix("https://app.example#") && endpoint.label.count == "https://app.example#".count + 8,
                "no path or query in metrics: they may hold a token")
        #expect(endpoint.label != WebhookEndpoint(url: "https://app.example/other", signingSecret: "").label)
        #expect(WebhookEndpoint(config.webhooks[1]).label.hasPrefix("http://10.0.0.5:8080#"))
        #expect(WebhookEndpoint(config.webhooks[1]).accepts("video.live_stream.created"))
    }

    @Test func webhookEventTypesAreTheLifecycleAssetAndSimulcastEvents() {
        #expect(Config.webhookEventTypes == Set(LifecycleEventType.allCases.map(\.rawValue) + AssetEventType.allCases.map(\.rawValue)
                                                + Simulcast.Event.Kind.allCases.map { "video.live_stream.simulcast_target.\($0.rawValue)" }))
    }

    @Test func invalidYAMLIsAnError() {
        #expect(throws: ConfigError.self) { try ConfigLoader.parse("rtmp: [unclosed") }
    }
}

@Suite struct AccessTokensFileTests {
    @Test func tokensFileIsMergedAndChecked() throws {
        let directory = NSTemporaryDirectory() + "onair-tokens-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let tokens = directory + "/tokens.yaml"
        try "- id: installed\n  secret: 0123456789abcdef0123\n  permissions: [video:write]\n".write(toFile: tokens, atomically: true, encoding: .utf8)
        let config = directory + "/onair.yaml"
        try "access_tokens_file: \(tokens)\naccess_tokens:\n  - {id: inline, secret: fedcba9876543210, permissions: [video:read]}\n"
            .write(toFile: config, atomically: true, encoding: .utf8)
        #expect(try ConfigLoader.load(path: config).accessTokens.map(\.id) == ["inline", "installed"])

        try "- id: inline\n  secret: 0123456789abcdef0123\n  permissions: [video:write]\n".write(toFile: tokens, atomically: true, encoding: .utf8)
        #expect(throws: ConfigError.self) { try ConfigLoader.load(path: config) }
        try "- id: x\n  secret: short\n  permissions: [video:write]\n".write(toFile: tokens, atomically: true, encoding: .utf8)
        do {
            _ = try ConfigLoader.load(path: config)
            Issue.record("a bad tokens file was accepted")
        } catch let error as ConfigError {
            #expect(error.key.hasPrefix("access_tokens_file(") && error.key.hasSuffix("[0].secret"))
        }
        try FileManager.default.removeItem(atPath: tokens)
        #expect(throws: ConfigError.self) { try ConfigLoader.load(path: config) }
    }

    @Test func readsTheImageSettings() throws {
        let config = try ConfigLoader.parse("""
            images:
              ffmpeg: /opt/ffmpeg/bin/ffmpeg
              jobs: 4
              queue: 0
              timeout: 2.5
              max_memory: 536870912
              cache_bytes: 1048576
              latest_interval: 0
            """)
        #expect(config.images == Config.Images(ffmpeg: "/opt/ffmpeg/bin/ffmpeg", jobs: 4, queue: 0, timeout: 2.5, maxMemory: 536_870_912,
                                               cacheBytes: 1_048_576, latestInterval: 0))
        #expect(ImageDecoder.Settings(config.images) == ImageDecoder.Settings(ffmpeg: "/opt/ffmpeg/bin/ffmpeg", jobs: 4, queue: 0, timeout: 2.5,
                                                                              memoryBytes: 536_870_912))
    }
}
