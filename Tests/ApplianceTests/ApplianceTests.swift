import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import ServiceLifecycle
import Testing
@testable import Appliance

/// The appliance as `serve` builds it (the same composition root), on port 0 with a temporary
/// database, its ServiceGroup running; the API driven through its real router, middleware and hub.
@Suite struct ApplianceTests {
    static let certificate = """
    -----BEGIN CERTIFICATE-----
    MIIBgDCCASWgAwIBAgIUYyWYiXm0UMReu2/t2/cNpK96MM0wCgYIKoZIzj0EAwIw
    FDESMBAGA1UEAwwJbG9jYWxob3N0MCAXDTI2MTIwMTA5MDc0NVoYDzIxMjYxMTA3
    MDkwNzQ1WjAUMRIwEAYDVQQDDAlsb2NhbGhvc3QwWTATBgcqhkjOPQIBBggqhkjO
    PQMBBwNCAAQo+SOdkFRC/HZv/gEub7d8TrtVOHOAz1y3g/kBdxB89SUDcYKChLWj
    VW8sYLcJ+hLB0i15RAXhypnhzXkSgKgKo1MwUTAdBgNVHQ4EFgQUrjG1ogU9RI2v
    mFHYrtTH7rtOlqcwHwYDVR0jBBgwFoAUrjG1ogU9RI2vmFHYrtTH7rtOlqcwDwYD
    VR0TAQH/BAUwAwEB/zAKBggqhkjOPQQDAgNJADBGAiEAiFrUMlRA7cGggqW9wwc7
    g19NqH1u+fKa/3ucuVhulbECIQDLqT9iyqnNNtwsSDAiSZM05oxi9t2YNo5U2HKU
    qYITFw==
    -----END CERTIFICATE-----
    """
    static let key = """
    -----BEGIN PRIVATE KEY-----
    MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgUlKfVEWQHF/4O4li
    WO1cQ1wGSZylZjV+Vr+QZpqW5FShRANCAAQo+SOdkFRC/HZv/gEub7d8TrtVOHOA
    z1y3g/kBdxB89SUDcYKChLWjVW8sYLcJ+hLB0i15RAXhypnhzXkSgKgK
    -----END PRIVATE KEY-----
    """

    /// A config on free ports in a fresh directory, with a write token and a read-only token.
    static func config(_ directory: String) throws -> Config {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try certificate.write(toFile: directory + "/tls.crt", atomically: true, encoding: .utf8)
        try key.write(toFile: directory + "/tls.key", atomically: true, encoding: .utf8)
        var config = Config()
        config.rtmp.listen = ListenAddress(host: "127.0.0.1", port: 0)
        config.http.listen = ListenAddress(host: "127.0.0.1", port: 0)
        config.metrics.listen = ListenAddress(host: "127.0.0.1", port: 0)
        config.http.tlsCertificate = directory + "/tls.crt"
        config.http.tlsKey = directory + "/tls.key"
        config.hls.directory = directory + "/hls"
        config.storage.database = directory + "/onair.sqlite"
        config.accessTokens = [
            .init(id: "writer", secret: .plain("writer-secret-0123456789"), permissions: [.write]),
            .init(id: "reader", secret: .plain("reader-secret-0123456789"), permissions: [.read]),
        ]
        return config
    }

    static func basic(_ id: String, _ secret: String) -> HTTPFields {
        [.authorization: "Basic " + Data("\(id):\(secret)".utf8).base64EncodedString(), .contentType: "application/json"]
    }

    static let writer = basic("writer", "writer-secret-0123456789")
    static let reader = basic("reader", "reader-secret-0123456789")

    /// Builds the appliance, runs its services, runs `body` against its router, shuts down.
    func withAppliance(_ body: @escaping @Sendable (LiveStreamStore, any TestClientProtocol) async throws -> Void) async throws {
        let directory = NSTemporaryDirectory() + "onair-appliance-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let logger = Logger(label: "test")
        let appliance = try Appliance.build(config: try Self.config(directory), configPath: nil, logger: logger)
        #expect(!FileManager.default.fileExists(atPath: directory + "/onair.sqlite"), "building opens no database")
        #expect(appliance.rtmp.localAddress == nil, "building binds no socket")
        let group = appliance.serviceGroup(logger: logger, signals: [])
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            let store = appliance.store
            try await Application(router: appliance.router).test(.router) { client in try await body(store, client) }
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }
    }

    @Test func authorizationMatrixAndMuxErrorShapes() async throws {
        try await withAppliance { _, client in
            let path = "/video/v1/live-streams"
            try await client.execute(uri: path, method: .get) { response in
                #expect(response.status == .unauthorized)
                #expect(response.headers[.wwwAuthenticate] == "Basic realm=\"onair\"")
                #expect(String(buffer: response.body).contains(#""type":"unauthorized""#))
            }
            try await client.execute(uri: path, method: .get, headers: Self.basic("writer", "wrong-secret-0123456789")) { response in
                #expect(response.status == .unauthorized)
            }
            try await client.execute(uri: path, method: .post, headers: Self.reader, body: ByteBuffer(string: "{}")) { response in
                #expect(response.status == .forbidden)
                #expect(String(buffer: response.body).contains(#""type":"forbidden""#))
            }
            try await client.execute(uri: path, method: .get, headers: Self.reader) { response in
                #expect(response.status == .ok)
                #expect(String(buffer: response.body) == #"{"data":[]}"#)
            }
            try await client.execute(uri: path, method: .post, headers: Self.writer, body: ByteBuffer(string: "{nope")) { response in
                #expect(response.status == .badRequest)
                #expect(String(buffer: response.body).contains(#""type":"invalid_parameters""#))
            }
            try await client.execute(uri: path + "/missing", method: .get, headers: Self.reader) { response in
                #expect(response.status == .notFound)
                #expect(String(buffer: response.body).contains(#""type":"not_found""#))
            }
            try await client.execute(uri: "/video/v1/nothing-here", method: .get, headers: Self.reader) { response in
                #expect(response.status == .notFound)
            }
        }
    }

    @Test func theAPIChangesStreamsThroughTheHubAndPlaybackAnswers412UntilActive() async throws {
        try await withAppliance { store, client in
            let body = ByteBuffer(string: #"{"playback_policies":["public"],"reconnect_window":0}"#)
            let created = try await client.execute(uri: "/video/v1/live-streams", method: .post, headers: Self.writer, body: body) { response in
                #expect(response.status == .created)
                return try JSONDecoder().decode(Created.self, from: Data(buffer: response.body)).data
            }
            #expect(try await store.liveStream(id: created.id)?.status == .idle)
            try await client.execute(uri: "/\(created.playback_ids[0].id).m3u8", method: .get) { response in
                #expect(response.status == .preconditionFailed)
                #expect(String(buffer: response.body).contains(#""type":"stream_not_active""#))
            }
            try await client.execute(uri: "/video/v1/live-streams/\(created.id)/disable", method: .put, headers: Self.writer) { response in
                #expect(response.status == .ok)
                #expect(String(buffer: response.body) == #"{"data":{}}"#)
            }
            #expect(try await store.liveStream(id: created.id)?.status == .disabled)
            try await client.execute(uri: "/video/v1/live-streams/\(created.id)/playback-ids", method: .post, headers: Self.writer,
                                     body: ByteBuffer(string: "{}")) { response in
                #expect(response.status == .created)
                #expect(String(buffer: response.body).contains(#""policy":"public""#))
            }
            try await client.execute(uri: "/video/v1/live-streams/\(created.id)", method: .delete, headers: Self.writer) { response in
                #expect(response.status == .noContent)
            }
            try await client.execute(uri: "/\(created.playback_ids[0].id).m3u8", method: .get) { response in
                #expect(response.status == .notFound, "a deleted stream's playback ID is gone at once")
            }
        }
    }

    struct Created: Decodable {
        struct Stream: Decodable {
            struct Playback: Decodable { let id: String }
            let id: String
            let playback_ids: [Playback]
        }
        let data: Stream
    }
}
