import Foundation
import HTTPTypes
import Media
import NIOCore
import NIOHTTPTypes

/// The hot path of playback, on the event loop: `GET /{PLAYBACK_ID}/index.m3u8` of a live, public,
/// playable stream — plain, or with LL-HLS directives (`_HLS_msn`, `_HLS_part`, `_HLS_skip`) only —
/// (and of a signed one under a valid grant path, `/{PLAYBACK_ID}/t/{GRANT}/index.m3u8`, checked here
/// by its MAC) is answered here with the bytes, status and headers ``PlaybackController`` would send (and counted
/// in `hb.requests` the same way, though not in the request-duration histogram), without a
/// Swift task, the router or the middleware; a blocking reload is held here (a callback and a timer
/// on this event loop) and answered the moment its part is published. Profiling showed the task, the
/// router and the middleware to cost most of a playlist request (a trivial Hummingbird route answered
/// only 15 % faster than the playlist), and 1,000 held reloads answered through them took 100 ms
/// after a part appeared. Everything else — other query parameters, HEAD, ranges, an uncached or
/// signed playback ID, a stream not yet playable, directives to refuse (400) — goes on to
/// Hummingbird unchanged.
///
/// Sits after the HTTP decoder (HTTP/1.1 connections and HTTP/2 streams alike). A request is only
/// answered here while no earlier request of the connection is being answered (by the router, or
/// held here), and requests that come meanwhile wait here, so pipelined responses keep their order.
final class PlaylistFastPath: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    /// What the handler needs from playback: shared by every connection.
    struct Source: Sendable {
        let directory: PlaybackDirectory
        let packagers: PackagerFactory
        let requests: RequestCounter
        /// Grants of signed playback IDs.
        let signing: PlaybackSigning
        /// Counted as the router's requests of the same route are (`hb.requests` by status).
        let served: @Sendable (HTTPResponse.Status) -> Void
    }

    /// A request to answer here: the stream's packager and the directives.
    private struct Playlist: Sendable {
        var packager: StreamPackager
        var reload: BlockingReload?
        var delta: Bool
        var gzip: Bool
    }

    private let source: Source
    /// Requests passed on whose response has not ended.
    private var inFlight = 0
    /// The rest (body, end) of a request answered here is dropped.
    private var answered = false
    /// A blocking reload held here (its ID in the packager's held requests), and the parts of later
    /// requests that wait for it.
    private var held: (packager: StreamPackager, id: Int?)?
    private var queued: [HTTPRequestPart] = []
    private var date = HTTPDate()
    /// The last response head built on this connection, for as long as it is still right.
    private var head: (key: HeadKey, response: HTTPResponse)?

    private struct HeadKey: Equatable {
        var packager: ObjectIdentifier
        var version: Int
        var length: Int
        var gzipped: Bool
        var cacheControl: String
        var date: String
    }

    /// More requests than this pipelined behind a held one: the connection is closed.
    static let maximumQueuedParts = 64

    init(source: Source) {
        self.source = source
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let part = unwrapInboundIn(data)
        if held != nil {
            guard queued.count < Self.maximumQueuedParts else { return context.close(promise: nil) }
            queued.append(part)
            return
        }
        read(part, context: context)
    }

    private func read(_ part: HTTPRequestPart, context: ChannelHandlerContext) {
        switch part {
        case .head(let request):
            // Answered here only in turn, and while the client reads what it is sent (the router's
            // path has backpressure; this one writes at once).
            if inFlight == 0, context.channel.isWritable, let playlist = playlist(for: request) {
                answered = true
                answer(playlist, context: context)
                return
            }
            answered = false
            inFlight += 1
        case .body, .end:
            if answered { return }
        }
        context.fireChannelRead(wrapInboundOut(part))
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if case .end = unwrapOutboundIn(data) { inFlight = max(0, inFlight - 1) }
        context.write(data, promise: promise)
    }

    func channelInactive(context: ChannelHandlerContext) {
        release()
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        release()
    }

    private func release() {
        if let held, let id = held.id { held.packager.held.cancel(id) }
        held = nil
        queued = []
    }

    // MARK: Answering

    /// The request, when it is one the fast path serves.
    private func playlist(for request: HTTPRequest) -> Playlist? {
        guard request.method == .get, let path = request.path, let (id, grant, query) = Self.split(path),
              request.headerFields[.range] == nil, !Self.changesTheConnection(request.headerFields[.connection]),
              let directives = Self.directives(query),
              let entry = source.directory.cached(id), let stream = entry.liveStreamID,
              entry.playbackID.policy == .public ? grant == nil : grant.map({ source.signing.grantIsValid($0, playbackID: id) }) ?? false,
              let packager = source.packagers.packager(liveStreamID: stream) else { return nil }
        let lowLatency = packager.serverControl != nil
        let playlist = Playlist(packager: packager, reload: lowLatency ? directives.reload : nil, delta: lowLatency && directives.skip,
                                gzip: PlaybackController.acceptsGzip(request.headerFields))
        if let reload = playlist.reload {
            switch packager.decision(reload) {
            case .answer?, .hold?: break
            case .badRequest?, nil: return nil  // the router answers 400 (or 412) in Mux's error shape
            }
        } else if !packager.isPlayable {
            return nil
        }
        return playlist
    }

    private func answer(_ playlist: Playlist, context: ChannelHandlerContext) {
        guard let reload = playlist.reload, playlist.packager.decision(reload) == .hold else {
            return send(playlist, context: context)
        }
        let loop = context.eventLoop
        let handler = NIOLoopBound(self, eventLoop: loop)
        let boundContext = NIOLoopBound(context, eventLoop: loop)
        let packager = playlist.packager
        held = (packager, nil)
        let id = packager.held.hold(timeout: TimeAmount(packager.holdTimeout), on: loop,
                                    until: { [weak packager] in packager?.isSatisfied(reload) ?? true }) { outcome in
            // Woken on this loop (the publisher's connection shares it): answer at once, else hop over.
            let finish: @Sendable () -> Void = {
                let handler = handler.value
                guard handler.held != nil else { return }  // the connection went away meanwhile
                handler.held = nil
                switch outcome {
                case .timedOut: handler.sendTimeout(context: boundContext.value)
                case .overLimit: handler.send(playlist, early: true, context: boundContext.value)
                case .ready: handler.send(playlist, context: boundContext.value)
                }
                handler.drainQueue(context: boundContext.value)
            }
            if loop.inEventLoop { finish() } else { loop.execute(finish) }
        }
        if held != nil { held!.id = id }
    }

    /// Requests that arrived while one was held, in order.
    private func drainQueue(context: ChannelHandlerContext) {
        while held == nil, !queued.isEmpty {
            read(queued.removeFirst(), context: context)
        }
    }

    private func send(_ playlist: Playlist, early: Bool = false, context: ChannelHandlerContext) {
        let (answer, version) = playlist.packager.versionedPlaylist(delta: playlist.delta, gzip: playlist.gzip)
        guard case .playlist(let bytes, let gzipped) = answer else { return sendTimeout(context: context) }
        source.requests.increment()
        source.served(.ok)
        let cacheControl = PlaybackController.playlistCacheControl(playlist.packager, blocking: playlist.reload != nil, early: early)
        let key = HeadKey(packager: ObjectIdentifier(playlist.packager), version: version, length: bytes.readableBytes,
                          gzipped: gzipped, cacheControl: cacheControl, date: date.now())
        let response: HTTPResponse
        if let head, head.key == key {
            response = head.response
        } else {
            var headers = HTTPFields()
            headers.reserveCapacity(9)
            headers[.contentType] = "application/vnd.apple.mpegurl"
            headers[.cacheControl] = cacheControl
            headers[.accessControlAllowOrigin] = "*"
            headers[.acceptRanges] = "bytes"
            headers[.vary] = "Accept-Encoding"
            if gzipped { headers[.contentEncoding] = "gzip" }
            headers[.contentLength] = String(bytes.readableBytes)
            headers[.date] = key.date
            headers[.server] = "onair"
            response = HTTPResponse(status: .ok, headerFields: headers)
            head = (key, response)
        }
        context.write(wrapOutboundOut(.head(response)), promise: nil)
        context.write(wrapOutboundOut(.body(bytes)), promise: nil)
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
    }

    /// 503 in Mux's error shape, as the router answers a hold that timed out.
    private func sendTimeout(context: ChannelHandlerContext) {
        let error = PlaybackError.holdTimedOut
        let body = ByteBuffer(bytes: error.body)
        source.requests.increment()
        source.served(error.status)
        var headers = PlaybackError.headers
        headers[.contentLength] = String(body.readableBytes)
        headers[.date] = date.now()
        headers[.server] = "onair"
        context.write(wrapOutboundOut(.head(HTTPResponse(status: error.status, headerFields: headers))), promise: nil)
        context.write(wrapOutboundOut(.body(body)), promise: nil)
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
    }

    // MARK: Parsing

    /// Whether a `Connection` header asks for more than keep-alive (`close`, `upgrade`): the router
    /// handles those.
    static func changesTheConnection(_ header: String?) -> Bool {
        guard let header else { return false }
        return header.split(separator: ",").contains { $0.trimmingCharacters(in: .whitespaces).lowercased() != "keep-alive" }
    }

    /// `(ID, GRANT, query)` of `/ID/index.m3u8[?query]` or `/ID/t/GRANT/index.m3u8[?query]` (ID:
    /// letters and digits, at most 64; GRANT without a slash), else nil.
    static func split(_ path: String) -> (id: String, grant: String?, query: Substring)? {
        let question = path.utf8.firstIndex(of: UInt8(ascii: "?"))
        let query = question.map { path[path.index(after: $0)...] } ?? ""
        var route = String(question.map { path[..<$0] } ?? path[...])
        let parts = route.withUTF8 { bytes -> (String, String?)? in
            let suffix = 11  // "/index.m3u8"
            guard bytes.count > suffix + 1, bytes.count <= suffix + 68 + PlaybackGrant.maximumLength, bytes[0] == UInt8(ascii: "/"),
                  bytes[(bytes.count - suffix)...].elementsEqual("/index.m3u8".utf8) else { return nil }
            let rest = UnsafeBufferPointer(rebasing: bytes[1..<(bytes.count - suffix)])
            let idEnd = rest.firstIndex(of: UInt8(ascii: "/")) ?? rest.endIndex
            guard idEnd > 0, idEnd <= 64, rest[..<idEnd].allSatisfy(ASCII.isAlphanumeric) else { return nil }
            let id = String(decoding: rest[..<idEnd], as: UTF8.self)
            guard idEnd < rest.endIndex else { return (id, nil) }
            let grant = rest[idEnd...].dropFirst(3)
            guard rest[idEnd...].starts(with: "/t/".utf8), !grant.isEmpty, !grant.contains(UInt8(ascii: "/")) else { return nil }
            return (id, String(decoding: grant, as: UTF8.self))
        }
        return parts.map { ($0.0, $0.1, query) }
    }

    /// The LL-HLS directives of a query in any order; nil when it has anything else (or a bad value:
    /// the router explains those).
    static func directives(_ query: Substring) -> (reload: BlockingReload?, skip: Bool)? {
        guard !query.isEmpty else { return (nil, false) }
        var msn: String?, part: String?, skip = false
        for pair in query.split(separator: "&") {
            guard let equals = pair.firstIndex(of: "=") else { return nil }
            let value = String(pair[pair.index(after: equals)...])
            switch pair[..<equals] {
            case "_HLS_msn" where msn == nil: msn = value
            case "_HLS_part" where part == nil: part = value
            case "_HLS_skip" where value == "YES" || value == "v2": skip = true
            default: return nil
            }
        }
        do {
            return (try BlockingReload.parse(msn: msn, part: part), skip)
        } catch {
            return nil
        }
    }
}

/// The `Date` header (RFC 9110 §5.6.7, IMF-fixdate), formatted at most once a second.
struct HTTPDate {
    private static let days = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
    private static let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
    private var second = -1
    private var text = ""

    mutating func now() -> String {
        var seconds = time(nil)
        guard Int(seconds) != second else { return text }
        var parts = tm()
        gmtime_r(&seconds, &parts)
        func two(_ value: Int32) -> String { value < 10 ? "0\(value)" : "\(value)" }
        text = "\(Self.days[Int(parts.tm_wday)]), \(two(parts.tm_mday)) \(Self.months[Int(parts.tm_mon)]) \(parts.tm_year + 1900) "
            + "\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec)) GMT"
        second = Int(seconds)
        return text
    }
}
