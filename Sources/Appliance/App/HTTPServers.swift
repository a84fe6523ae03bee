import Hummingbird
import HummingbirdCore
import HummingbirdTLS
import Logging
import NIOSSL
import ServiceLifecycle

/// Builds the HTTPS server (API + playback, TLS 1.2+) and the optional plain-HTTP server (playback only).
enum HTTPServers {
    static func make(config: Config.HTTP, store: LiveStreamStore, hub: StreamHub, packagers: PackagerFactory,
                     tokens: AccessTokens, logger: Logger) throws -> [any Service] {
        let directory = PlaybackDirectory(store: store)
        let playback = PlaybackController(directory: directory, packagers: packagers)
        let api = LiveStreamsController(store: store, hub: hub, playback: directory, packagers: packagers, maxBodySize: config.maxBodySize)

        let secure = Router()
        secure.add(middleware: MuxErrorMiddleware())
        addHealth(to: secure)
        api.register(on: secure.group("video/v1").add(middleware: AuthMiddleware(tokens: tokens)))
        playback.register(on: secure)

        let http1 = HTTPServerBuilder.http1(configuration: .init(idleTimeout: .seconds(60)))
        var servers: [any Service] = [
            Application(router: secure, server: try .tls(http1, tlsConfiguration: try tlsConfiguration(config)),
                        configuration: .init(address: .hostname(config.listen.host, port: config.listen.port), serverName: "onair"),
                        logger: logger),
        ]
        if let plainListen = config.plainListen {
            let plain = Router()
            plain.add(middleware: MuxErrorMiddleware())
            addHealth(to: plain)
            playback.register(on: plain)
            servers.append(Application(router: plain, server: http1,
                                       configuration: .init(address: .hostname(plainListen.host, port: plainListen.port), serverName: "onair"),
                                       logger: logger))
        }
        return servers
    }

    private static func addHealth<Context: RequestContext>(to router: Router<Context>) {
        router.get("healthz") { _, _ in
            var headers = HTTPFields()
            headers[.contentType] = "application/json"
            headers[.cacheControl] = "no-store"
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: #"{"status":"ok"}"#)))
        }
    }

    /// Certificate chain and key from PEM files; TLS 1.2 is the minimum.
    static func tlsConfiguration(_ config: Config.HTTP) throws -> TLSConfiguration {
        do {
            let chain = try NIOSSLCertificate.fromPEMFile(config.tlsCertificate).map { NIOSSLCertificateSource.certificate($0) }
            let key = try NIOSSLPrivateKey(file: config.tlsKey, format: .pem)
            var tls = TLSConfiguration.makeServerConfiguration(certificateChain: chain, privateKey: .privateKey(key))
            tls.minimumTLSVersion = .tlsv12
            return tls
        } catch {
            throw ConfigError(key: "http.tls", message: "cannot load certificate \(config.tlsCertificate) and key \(config.tlsKey): \(error)")
        }
    }
}
