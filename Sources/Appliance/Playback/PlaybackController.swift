import Foundation
import Hummingbird
import Media

/// HLS playback by playback ID, as stream.mux.com serves it:
///
/// ```
/// GET /{PLAYBACK_ID}.m3u8              multivariant playlist (one variant), 412 until the stream is live
///                                      with three segments (players start three segments from the end)
/// GET /{PLAYBACK_ID}/index.m3u8        the media playlist (from memory while live, else tmpfs)
///     ?_HLS_msn=M[&_HLS_part=N]         LL-HLS blocking reload: held until that part exists
///     &_HLS_skip=YES|v2                 LL-HLS delta update
/// GET /{PLAYBACK_ID}/{segment}.ts|.m4s segments from tmpfs (long-lived, immutable)
/// GET /{PLAYBACK_ID}/{init}.mp4        CMAF init sections from tmpfs
/// GET /{PLAYBACK_ID}/{prefix}-pN.m4s   LL-HLS parts from memory; the hinted one is held until complete
/// GET /{PLAYBACK_ID}/highest.mp4       an asset's static renditions (also audio.m4a), ?download=NAME
/// GET /{PLAYBACK_ID}/t/{GRANT}/{file}  any of the files above, for a signed playback ID
/// ```
/// An asset's playback ID plays its recording (``AssetPlayback``). 404 for unknown playback IDs. A
/// signed playback ID needs `?token=JWT` (``PlaybackSigning``): the multivariant playlist it opens
/// names its media playlist under a grant path, so the playlist's relative URIs carry the grant to
/// every segment and part; a media playlist asked for with a token is redirected there, and any
/// file may also be fetched with the token itself. 403 (with the reason) without a valid token or
/// grant, and for a token on a public playback ID (as Mux answers). CORS open, HEAD and single byte
/// ranges supported. The playback ID is resolved from memory.
struct PlaybackController: Sendable {
    let directory: PlaybackDirectory
    let packagers: PackagerFactory
    /// Playback requests served, for the STATUS line.
    let requests: RequestCounter
    /// Segment bytes shared between the viewers of a live edge.
    let segments: SegmentCache
    /// Recordings, by their assets' playback IDs.
    let assets: AssetPlayback?
    /// Tokens and grants of signed playback IDs.
    let signing: PlaybackSigning

    static let playlistType = "application/vnd.apple.mpegurl"

    func register<Context: RequestContext>(on router: Router<Context>) {
        for method in [HTTPRequest.Method.get, .head] {
            router.on("{playback_id}.m3u8", method: method) { request, context in
                try await multivariant(request, context)
            }
            router.on(":playback_id/:file", method: method) { request, context in
                try await file(request, context)
            }
            router.on(":playback_id/t/:grant/:file", method: method) { request, context in
                try await file(request, context, grant: try context.parameters.require("grant"))
            }
        }
    }

    /// The playback ID's entry once the request may open it, and the grant a signed ID was opened with.
    private func resolve(_ request: Request, _ context: some RequestContext, grant: String? = nil) async throws
        -> (entry: PlaybackDirectory.Entry, grant: PlaybackSigning.Authorization?)
    {
        requests.increment()
        let id = try context.parameters.require("playback_id")
        guard id.utf8.count <= 64, id.utf8.allSatisfy(ASCII.isAlphanumeric),
              let entry = try await directory.resolve(id) else { throw PlaybackError.notFound }
        let token = request.uri.queryParameters.get("token")
        switch entry.playbackID.policy {
        case .public:
            guard token == nil, grant == nil else { throw PlaybackError.forbidden("public playback IDs take no token") }
            return (entry, nil)
        case .signed:
            do {
                return (entry, try await signing.authorize(playbackID: id, token: token, grant: grant))
            } catch .forbidden(let reason) {
                throw PlaybackError.forbidden(reason)
            } catch .unavailable {
                throw PlaybackError.unavailable
            }
        }
    }

    /// Where a playback ID's media playlist is, relative to the multivariant playlist.
    private func mediaBase(_ id: String, _ grant: PlaybackSigning.Authorization?) -> String {
        grant.map { "\(id)/t/\($0.path)" } ?? id
    }

    private func multivariant(_ request: Request, _ context: some RequestContext) async throws -> Response {
        let (entry, grant) = try await resolve(request, context)
        let base = mediaBase(entry.playbackID.id, grant)
        guard let stream = entry.liveStreamID else {
            guard case .asset(let asset) = entry.target, let assets else { throw PlaybackError.notFound }
            return try await assets.multivariant(asset, mediaPlaylist: "\(base)/index.m3u8", request)
        }
        guard let variant = packagers.packager(liveStreamID: stream)?.variant else {
            throw PlaybackError.notActive
        }
        let playlist = MultivariantPlaylist(variants: [MultivariantPlaylist.Variant(
            uri: "\(base)/index.m3u8", bandwidth: variant.bandwidth, averageBandwidth: variant.averageBandwidth,
            codecs: variant.codecs, width: variant.resolution?.width, height: variant.resolution?.height, frameRate: variant.frameRate)])
        return Self.respond(request, ByteBuffer(string: playlist.render()), contentType: Self.playlistType, cacheControl: "max-age=1")
    }

    private func file(_ request: Request, _ context: some RequestContext, grant grantText: String? = nil) async throws -> Response {
        let (entry, grant) = try await resolve(request, context, grant: grantText)
        let name = try context.parameters.require("file")
        let isPlaylist = name == "index.m3u8"
        let kind = Self.mediaKind(name)
        guard isPlaylist || ((kind != nil || Asset.StaticRendition.Name(rawValue: name) != nil) && name.utf8.count <= 64
                             && name.utf8.allSatisfy { ASCII.isAlphanumeric($0) || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: ".") }
                             && !name.hasPrefix(".")) else { throw PlaybackError.notFound }
        let reload = isPlaylist ? try Self.directives(request) : nil  // malformed directives: 400 for every playlist
        if isPlaylist, let grant, grantText == nil {
            // A token on the media playlist: on to its grant path, so that its relative URIs carry it.
            return try redirect(request, to: "/\(mediaBase(entry.playbackID.id, grant))/index.m3u8")
        }
        guard let stream = entry.liveStreamID else {
            guard case .asset(let asset) = entry.target, let assets else { throw PlaybackError.notFound }
            return try await assets.file(asset, name: name, request, context: context)
        }
        let live = packagers.packager(liveStreamID: stream)
        if isPlaylist, let packager = live {
            // A live broadcast: the playlist comes from memory, no file system round trip.
            return try await livePlaylist(request, packager, reload: reload)
        }
        if kind == .part, let packager = live {
            switch await packager.part(named: name) {
            case .part(let bytes): return Self.respond(request, bytes, contentType: "video/mp4", cacheControl: Self.immutable)
            case .timedOut: throw PlaybackError.holdTimedOut
            case .notFound: break  // a segment file of that name, or nothing
            }
        }
        let path = packagers.directory(of: stream) + "/" + name
        guard let bytes = isPlaylist ? SegmentFiles.read(path: path) : segments.read(path) else {
            throw isPlaylist ? PlaybackError.notActive : PlaybackError.notFound
        }
        return isPlaylist
            ? Self.respond(request, bytes, contentType: Self.playlistType, cacheControl: "max-age=1")
            : Self.respond(request, bytes, contentType: kind == .transportStream ? "video/mp2t" : "video/mp4", cacheControl: Self.immutable)
    }

    static let immutable = "public, max-age=31536000, immutable"

    /// 302 to `path`, with the request's query but its token.
    private func redirect(_ request: Request, to path: String) throws -> Response {
        let query = request.uri.queryParameters.filter { $0.key != "token" }
            .map { "\($0.key)=\($0.value.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "")" }
        var headers = Self.headers(contentType: Self.playlistType, cacheControl: "no-store")
        headers[.location] = path + (query.isEmpty ? "" : "?" + query.joined(separator: "&"))
        headers[.contentLength] = "0"
        return Response(status: .found, headers: headers)
    }

    /// A live media playlist: LL-HLS directives honoured (blocking reload, delta update; §6.2.5).
    /// Blocking answers have unique URLs and may be cached for six target durations, others for half
    /// of one (RFC 8216bis App. B.1 "recommended" caching).
    private func livePlaylist(_ request: Request, _ packager: StreamPackager, reload: BlockingReload?) async throws -> Response {
        let skip = request.uri.queryParameters.get("_HLS_skip").map { $0 == "YES" || $0 == "v2" } ?? false
        let (answer, early) = await packager.mediaPlaylist(reload: reload, delta: skip, gzip: Self.acceptsGzip(request.headers))
        switch answer {
        case .playlist(let bytes, let gzipped):
            var response = Self.respond(request, bytes, contentType: Self.playlistType,
                                   cacheControl: Self.playlistCacheControl(packager, blocking: reload != nil, early: early))
            response.headers[.vary] = "Accept-Encoding"
            if gzipped { response.headers[.contentEncoding] = "gzip" }
            return response
        case .notPlayable: throw PlaybackError.notActive
        case .badRequest(let reason): throw PlaybackError.badDirective(reason)
        case .timedOut: throw PlaybackError.holdTimedOut
        }
    }

    /// Cache-Control of a live media playlist: LL-HLS blocking answers have unique URLs and may be
    /// cached for six target durations, other LL answers for half of one (RFC 8216bis App. B.1), others
    /// 1 s; a blocking reload answered early (too many held) must not be cached at all.
    static func playlistCacheControl(_ packager: StreamPackager, blocking: Bool, early: Bool = false) -> String {
        guard packager.serverControl != nil else { return "max-age=1" }
        if early { return "no-store" }
        let target = packager.playlist.targetDuration
        return blocking ? "public, max-age=\(6 * target)" : "public, max-age=\(max(1, target / 2))"
    }

    /// The LL-HLS blocking-reload directives of a playlist request; malformed ones (a value that is not
    /// 1–20 digits, `_HLS_part` alone, `_HLS_skip` other than YES or v2) are refused with 400 whatever
    /// the stream (§6.2.5.2).
    static func directives(_ request: Request) throws -> BlockingReload? {
        let query = request.uri.queryParameters
        if let skip = query.get("_HLS_skip"), skip != "YES", skip != "v2" {
            throw PlaybackError.badDirective("_HLS_skip must be YES or v2")
        }
        do {
            return try BlockingReload.parse(msn: query.get("_HLS_msn"), part: query.get("_HLS_part"))
        } catch {
            throw PlaybackError.badDirective(error.description)
        }
    }

    /// Whether `Accept-Encoding` lists gzip with a weight above 0 (RFC 9110 §12.5.3).
    static func acceptsGzip(_ headers: HTTPFields) -> Bool {
        guard let header = headers[.acceptEncoding] else { return false }
        return header.split(separator: ",").contains { item in
            let parts = item.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
            let weight = parts.dropFirst().first { $0.hasPrefix("q=") }.flatMap { Double($0.dropFirst(2)) } ?? 1
            return parts.first == "gzip" && weight > 0
        }
    }

    /// What a media file name is, by its extension (parts: `<prefix>-p<N>.m4s`).
    enum MediaKind { case transportStream, segment, part, initialization }

    static func mediaKind(_ name: String) -> MediaKind? {
        if name.hasSuffix(".ts") { return .transportStream }
        if name.hasSuffix(".mp4") { return .initialization }
        guard name.hasSuffix(".m4s") else { return nil }
        return name.contains("-p") ? .part : .segment
    }

    /// The headers of every media response: type, caching, CORS, ranges.
    static func headers(contentType: String, cacheControl: String) -> HTTPFields {
        var headers = HTTPFields()
        headers[.contentType] = contentType
        headers[.cacheControl] = cacheControl
        headers[.accessControlAllowOrigin] = "*"
        headers[.acceptRanges] = "bytes"
        return headers
    }

    /// The response with CORS and caching headers, honouring HEAD and a single `Range: bytes=`.
    static func respond(_ request: Request, _ bytes: ByteBuffer, contentType: String, cacheControl: String) -> Response {
        var headers = headers(contentType: contentType, cacheControl: cacheControl)
        var status = HTTPResponse.Status.ok
        var body = bytes
        if let header = request.headers[.range] {
            guard let range = Self.byteRange(header, size: bytes.readableBytes) else {
                headers[.contentRange] = "bytes */\(bytes.readableBytes)"
                return Response(status: .rangeNotSatisfiable, headers: headers)
            }
            status = .partialContent
            headers[.contentRange] = "bytes \(range.lowerBound)-\(range.upperBound)/\(bytes.readableBytes)"
            body = bytes.getSlice(at: bytes.readerIndex + range.lowerBound, length: range.count)!
        }
        headers[.contentLength] = String(body.readableBytes)
        if request.method == .head {
            return Response(status: status, headers: headers, body: .init { _ in })
        }
        return Response(status: status, headers: headers, body: .init(byteBuffer: body))
    }

    /// Parses `bytes=a-b`, `bytes=a-` or `bytes=-n` against a file of `size` bytes (RFC 9110 §14.1.2).
    static func byteRange(_ header: String, size: Int) -> ClosedRange<Int>? {
        guard header.hasPrefix("bytes="), !header.contains(","), size > 0 else { return nil }
        let spec = header.dropFirst(6).split(separator: "-", maxSplits: 1, omittingEmptySubsequences: false)
        guard spec.count == 2 else { return nil }
        let first = Int(spec[0].trimmingCharacters(in: .whitespaces))
        let last = Int(spec[1].trimmingCharacters(in: .whitespaces))
        switch (first, last) {
        case (let start?, let end?) where start <= end && start < size: return start...min(end, size - 1)
        case (let start?, nil) where spec[1].isEmpty && start < size: return start...(size - 1)
        case (nil, let suffix?) where spec[0].isEmpty && suffix > 0: return max(0, size - suffix)...(size - 1)
        default: return nil
        }
    }
}
