import Hummingbird
import HummingbirdCore
import HummingbirdHTTP2
import Logging
import Metrics
import NIOCore
import NIOHTTP2
import NIOSSL
import Prometheus
import ServiceLifecycle

/// Builds the HTTPS server (API, playback, /healthz; TLS 1.2+, reloadable certificate, HTTP/2 or
/// HTTP/1.1 by ALPN), the optional plain-HTTP server (playback and /healthz only: the API is never
/// served without TLS) and the metrics server (plain HTTP, `/metrics` only, loopback by default).
enum HTTPServers {
    typealias SecureRouter = Router<BasicRequestContext>

    struct Dependencies {
        var store: LiveStreamStore
        var service: LiveStreamService
        var packagers: PackagerFactory
        var assets: AssetStore
        var assetService: AssetService
        var playbackIDs: PlaybackDirectory
        var tokens: AccessTokens
        var signing: PlaybackSigning
        var tls: TLSContexts
        var images: ImageDecoder
        var simulcast: Simulcast
        var simulcastTargets: SimulcastTargetStore
        var imageCacheBytes: Int
        var latestInterval: Double
        var metrics: PrometheusCollectorRegistry
        var playbackRequests: RequestCounter
        var logger: Logger
        /// Called once per server when it is listening.
        var onRunning: @Sendable () async -> Void
    }

    /// The servers (HTTPS, then plain HTTP if configured) and the HTTPS router.
    static func make(config: Config.HTTP, metrics metricsListen: ListenAddress, _ dependencies: Dependencies)
        -> (servers: [any Service], secure: SecureRouter)
    {
        let playback = PlaybackController(directory: dependencies.playbackIDs, packagers: dependencies.packagers,
                                          requests: dependencies.playbackRequests, segments: SegmentCache(),
                                          assets: AssetPlayback(assets: dependencies.assets, recorder: dependencies.assetService.recorder),
                                          signing: dependencies.signing)
        let images = ImageController(directory: dependencies.playbackIDs, packagers: dependencies.packagers,
                                     recorder: dependencies.assetService.recorder, assets: dependencies.assets, signing: dependencies.signing,
                                     decoder: dependencies.images, cache: ImageCache(maximumBytes: dependencies.imageCacheBytes),
                                     requests: dependencies.playbackRequests,
                                     latestInterval: dependencies.latestInterval)
        let signingKeys = SigningKeysController(signing: dependencies.signing)
        let api = LiveStreamsController(store: dependencies.store, service: dependencies.service, simulcast: dependencies.simulcast,
                                        maxBodySize: config.maxBodySize)
        let simulcastAPI = SimulcastTargetsController(targets: dependencies.simulcastTargets, simulcast: dependencies.simulcast,
                                                      isBroadcasting: { [packagers = dependencies.packagers] in packagers.packager(liveStreamID: $0) != nil },
                                                      maxBodySize: config.maxBodySize)
        let assetsAPI = AssetsController(assets: dependencies.assets, service: dependencies.assetService, maxBodySize: config.maxBodySize)
        let requestTimeout = TimeAmount.milliseconds(Int64(config.requestTimeout * 1000))
        let idleTimeout = TimeAmount.milliseconds(Int64(config.idleTimeout * 1000))
        // The router's request counter for the playlist route, by the statuses the fast path answers.
        let served = [HTTPResponse.Status.ok, .serviceUnavailable].map { status in
            (status, Counter(label: "hb.requests", dimensions: [("http.route", "/{playback_id}/{file}"), ("http.request.method", "GET"),
                                                               ("http.response.status_code", String(status.code))]))
        }
        let fastPath = PlaylistFastPath.Source(directory: dependencies.playbackIDs, packagers: dependencies.packagers,
                                               requests: dependencies.playbackRequests, signing: dependencies.signing,
                                               served: { status in served.first { $0.0 == status }?.1.increment() })
        let http1 = HTTP1Channel.Configuration(
            additionalChannelHandlers: [RequestDeadlineHandler(requestTimeout: requestTimeout, idleTimeout: idleTimeout),
                                        PlaylistFastPath(source: fastPath)])
        // HTTP/2: each stream gets the HTTP/1.1 deadlines; a connection with no open stream closes
        // after the idle timeout. NIO allows 100 concurrent streams per connection.
        let http2 = HTTP2ChannelConfiguration(idleTimeout: .milliseconds(Int64(config.idleTimeout * 1000)),
                                              gracefulCloseTimeout: .seconds(5), streamConfiguration: http1)
        let connections = ConnectionCounter(limit: config.maxConnections)
        let onRunning = dependencies.onRunning

        let secure = Router()
        secure.add(middleware: MetricsMiddleware())
        secure.add(middleware: MuxErrorMiddleware())
        addHealth(to: secure)
        let video = secure.group("video/v1").add(middleware: AuthMiddleware(tokens: dependencies.tokens))
        api.register(on: video)
        simulcastAPI.register(on: video)
        assetsAPI.register(on: video)
        // Signing keys need System permissions under both prefixes (the /video/v1 ones are deprecated), as on
        // Mux: a key signs tokens for every signed playback ID.
        for prefix in ["system/v1", "video/v1"] {
            signingKeys.register(on: secure.group(RouterPath(prefix)).add(middleware: AuthMiddleware(tokens: dependencies.tokens, scope: .system)))
        }
        images.register(on: secure, scheme: "https")
        playback.register(on: secure)
        var servers: [any Service] = [
            Application(router: secure, server: .limited(connections) { [tls = dependencies.tls] responder in
                            ReloadableTLSChannel(http1: HTTP1Channel(responder: responder, configuration: http1),
                                                 http2: HTTP2Channel(responder: responder, configuration: http2),
                                                 contexts: tls, handshakeTimeout: requestTimeout)
                        },
                        configuration: .init(address: .hostname(config.listen.host, port: config.listen.port), serverName: "onair"),
                        onServerRunning: { _ in await onRunning() }, logger: dependencies.logger),
        ]
        let metrics = Router()
        MetricsRegistry.route(on: metrics, registry: dependencies.metrics)
        servers.append(Application(router: metrics, server: .limited(ConnectionCounter(limit: 64)) { responder in
                                       HTTP1Channel(responder: responder, configuration: HTTP1Channel.Configuration(additionalChannelHandlers: [
                                           RequestDeadlineHandler(requestTimeout: requestTimeout, idleTimeout: idleTimeout)]))
                                   },
                                   configuration: .init(address: .hostname(metricsListen.host, port: metricsListen.port), serverName: "onair"),
                                   onServerRunning: { _ in await onRunning() }, logger: dependencies.logger))
        if let plainListen = config.plainListen {
            let plain = Router()
            plain.add(middleware: MetricsMiddleware())
            plain.add(middleware: MuxErrorMiddleware())
            addHealth(to: plain)
            images.register(on: plain, scheme: "http")
            playback.register(on: plain)
            servers.append(Application(router: plain, server: .limited(connections) { HTTP1Channel(responder: $0, configuration: http1) },
                                       configuration: .init(address: .hostname(plainListen.host, port: plainListen.port), serverName: "onair"),
                                       onServerRunning: { _ in await onRunning() }, logger: dependencies.logger))
        }
        return (servers, secure)
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
            tls.applicationProtocols = NIOHTTP2SupportedALPNProtocols
            _ = try NIOSSLContext(configuration: tls)  // a key that does not match the certificate fails here
            return tls
        } catch {
            throw ConfigError(key: "http.tls", message: "cannot load certificate \(config.tlsCertificate) and key \(config.tlsKey): \(error)")
        }
    }
}
