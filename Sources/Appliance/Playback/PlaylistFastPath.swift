import Foundation
import HTTPTypes
import NIOCore
import NIOHTTPTypes

/// The hot path of playback, on the event loop: a plain `GET /{PLAYBACK_ID}/index.m3u8` (no query,
/// no Range, keep-alive) of a live, public stream whose playlist is in memory is answered here with
/// the same bytes and headers ``PlaybackController`` would send, without a Swift task, the router or
/// the middleware. Profiling the playlist fan-out showed those to cost most of a request (a trivial
/// Hummingbird route answered only 15 % faster than the playlist). Everything else — LL-HLS
/// directives, HEAD, ranges, an uncached playback ID, a stream not yet playable — goes on to
/// Hummingbird unchanged.
///
/// Sits after the HTTP decoder (HTTP/1.1 connections and HTTP/2 streams alike). A request is only
/// answered here while no earlier request of the connection is still being answered, so pipelined
/// responses keep their order.
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
        /// Counted as the router's requests of the same route are (`hb.requests`).
        let served: @Sendable () -> Void
    }

    private let source: Source
    /// Requests passed on whose response has not ended.
    private var inFlight = 0
    /// The rest (body, end) of a request answered here is dropped.
    private var answered = false
    private var date = HTTPDate()
    /// The last response head built on this connection, for as long as it is still right.
    private var head: (key: HeadKey, response: HTTPResponse)?

    private struct HeadKey: Equatable {
        var packager: ObjectIdentifier
        var version: Int
        var gzipped: Bool
        var date: String
    }

    init(source: Source) {
        self.source = source
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let request):
            if inFlight == 0, let response = answer(request) {
                answered = true
                context.write(wrapOutboundOut(.head(response.head)), promise: nil)
                context.write(wrapOutboundOut(.body(response.body)), promise: nil)
                context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
                return
            }
            answered = false
            inFlight += 1
        case .body, .end:
            if answered { return }
        }
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if case .end = unwrapOutboundIn(data) { inFlight = max(0, inFlight - 1) }
        context.write(data, promise: promise)
    }

    /// The response, when this request is one the fast path serves.
    private func answer(_ request: HTTPRequest) -> (head: HTTPResponse, body: ByteBuffer)? {
        guard request.method == .get, let path = request.path, let id = Self.playbackID(inPlaylistPath: path),
              request.headerFields[.range] == nil, request.headerFields[.connection] == nil,
              let entry = source.directory.cached(id), entry.playbackID.policy == .public,
              let packager = source.packagers.packager(liveStreamID: entry.liveStreamID)
        else { return nil }
        let (answer, version) = packager.versionedPlaylist(delta: false, gzip: PlaybackController.acceptsGzip(request.headerFields))
        guard case .playlist(let bytes, let gzipped) = answer else { return nil }
        source.requests.increment()
        source.served()
        let key = HeadKey(packager: ObjectIdentifier(packager), version: version, gzipped: gzipped, date: date.now())
        if let head, head.key == key { return (head.response, bytes) }
        var headers = HTTPFields()
        headers.reserveCapacity(9)
        headers[.contentType] = "application/vnd.apple.mpegurl"
        headers[.cacheControl] = PlaybackController.playlistCacheControl(packager, blocking: false)
        headers[.accessControlAllowOrigin] = "*"
        headers[.acceptRanges] = "bytes"
        headers[.vary] = "Accept-Encoding"
        if gzipped { headers[.contentEncoding] = "gzip" }
        headers[.contentLength] = String(bytes.readableBytes)
        headers[.date] = key.date
        headers[.server] = "onair"
        let response = HTTPResponse(status: .ok, headerFields: headers)
        head = (key, response)
        return (response, bytes)
    }

    /// `ID` of `/ID/index.m3u8` (letters and digits, at most 64), else nil (a query goes elsewhere).
    static func playbackID(inPlaylistPath path: String) -> String? {
        var path = path
        return path.withUTF8 { bytes -> String? in
            let suffix = 11  // "/index.m3u8"
            guard bytes.count > suffix + 1, bytes.count <= suffix + 65, bytes[0] == UInt8(ascii: "/") else { return nil }
            guard bytes[(bytes.count - suffix)...].elementsEqual("/index.m3u8".utf8) else { return nil }
            let id = UnsafeBufferPointer(rebasing: bytes[1..<(bytes.count - suffix)])
            guard id.allSatisfy(PlaybackController.isAlphanumeric) else { return nil }
            return String(decoding: id, as: UTF8.self)
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
