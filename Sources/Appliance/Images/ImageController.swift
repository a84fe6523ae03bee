import Foundation
import Hummingbird
import Media
import Synchronization

/// Thumbnails, animated GIF/WebP and storyboards by playback ID, as image.mux.com serves them
/// (``ImageRequest`` lists the parameters):
///
/// ```
/// GET /{PLAYBACK_ID}/thumbnail.{jpg,png,webp}   a live stream's newest picture (or `time` s from its
///                                               broadcast's start); an asset's middle (or `time`)
/// GET /{PLAYBACK_ID}/animated.{gif,webp}        `start`..`end` of the same timeline
/// GET /{PLAYBACK_ID}/storyboard.{jpg,png,webp}  an asset's tiles; .vtt and .json say where each is
/// ```
/// Pictures come from the HLS segments: a live stream's window in tmpfs (its recording for times
/// the window no longer holds), an asset's recording on disk. ``ImageDecoder`` decodes them in
/// ffmpeg processes, ``ImageCache`` keeps each once made (ETag, 304). A signed playback ID needs
/// `?token=` with `aud` t, g or s, and the image options in its claims (the query's are ignored).
/// Errors in image.mux.com's shape, `{"code", "message"}` (``ImageError``).
struct ImageController: Sendable {
    let directory: PlaybackDirectory
    let packagers: PackagerFactory
    let recorder: Recorder
    let assets: AssetStore
    let signing: PlaybackSigning
    let decoder: ImageDecoder
    let cache: ImageCache
    let requests: RequestCounter
    /// Seconds a live stream's newest picture is reused.
    let latestInterval: Double
    /// Newest pictures chosen, by playback ID and options: the segment and when it was chosen.
    let latest = LatestChoices()

    final class LatestChoices: Sendable {
        let chosen = Mutex<[String: (uri: String, at: ContinuousClock.Instant)]>([:])
    }

    static let files = ["thumbnail.jpg", "thumbnail.png", "thumbnail.webp", "animated.gif", "animated.webp",
                        "storyboard.jpg", "storyboard.png", "storyboard.webp", "storyboard.vtt", "storyboard.json"]

    /// The image routes; they win over the playback routes' `:playback_id/:file` (constant names).
    /// `scheme`: the listener's, for the URLs a storyboard's VTT and JSON give.
    func register<Context: RequestContext>(on router: Router<Context>, scheme: String) {
        for method in [HTTPRequest.Method.get, .head] {
            for file in Self.files {
                router.on(RouterPath(":playback_id/\(file)"), method: method) { request, context in
                    do {
                        return try await image(request, context, file: file, scheme: scheme)
                    } catch let error as ImageError {
                        return error.response
                    }
                }
            }
        }
    }

    private func image(_ request: Request, _ context: some RequestContext, file: String, scheme: String) async throws -> Response {
        requests.increment()
        let id = try context.parameters.require("playback_id")
        guard id.utf8.count <= 64, id.utf8.allSatisfy(ASCII.isAlphanumeric), let entry = try await directory.resolve(id) else {
            throw ImageError.notFound
        }
        let token = request.uri.queryParameters.get("token")
        var parameters: [String: String] = [:]
        for (name, value) in request.uri.queryParameters where parameters[String(name)] == nil {
            parameters[String(name)] = String(value)
        }
        // The kind of picture decides the token's audience; the options then come from the token.
        guard let kind = try? ImageRequest.parse(file: file, parameters: [:]) else { throw ImageError.notFound }
        switch entry.playbackID.policy {
        case .public:
            guard token == nil else { throw ImageError.forbidden("public playback IDs take no token") }
        case .signed:
            do {
                parameters = try await signing.authorize(playbackID: id, token: token, grant: nil, audience: kind.audience).modifiers
            } catch .forbidden(let reason) {
                throw ImageError.forbidden(reason)
            } catch .unavailable {
                throw ImageError.unavailable("signed playback is unavailable for a moment; try again")
            }
        }
        let asked: ImageRequest
        do {
            guard let parsed = try ImageRequest.parse(file: file, parameters: parameters) else { throw ImageError.notFound }
            asked = parsed
        } catch let invalid as ImageRequest.Invalid {
            throw ImageError.invalid(invalid.description)
        }
        let source = try await self.source(of: entry, for: asked)
        if asked.format == .vtt || asked.format == .json {
            let board = try storyboard(asked, source)
            var url = "\(scheme)://\(Self.host(request))/\(id)/storyboard.\(asked.tileFormat.rawValue)"
            if let token { url += "?token=\(token)" } else if let query = Self.clipQuery(asked) { url += "?" + query }
            let text = ByteBuffer(string: asked.format == .vtt ? board.vtt(imageURL: url) : board.json(imageURL: url))
            return Self.respond(request, ImageCache.Image(bytes: text, etag: ImageCache.etag(text)),
                                contentType: asked.contentType, cacheControl: source.cacheControl)
        }
        let (job, cacheControl) = try self.job(asked, id: id, source)
        let key = String(describing: job)
        let image: ImageCache.Image
        do {
            image = try await cache.image(key) { () async throws(ImageDecoder.Failure) -> ByteBuffer in try await decoder.run(job) }
        } catch {
            throw ImageError(error)
        }
        return Self.respond(request, image, contentType: asked.contentType, cacheControl: cacheControl)
    }

    // MARK: Where the pictures are

    /// A timeline of segments and the directory of their files.
    struct Source: Sendable {
        var timeline: PlaylistTimeline
        var directory: String
        /// The live window (nil for an asset); its newest segment is the live stream's newest picture.
        var packager: StreamPackager?
        /// The stream's recording, for times the live window no longer holds.
        var recording: (timeline: PlaylistTimeline, directory: String)?
        var videoSize: (width: Int, height: Int)?
        /// Whether more segments may come (a live stream, or an asset still recording).
        var growing: Bool

        var cacheControl: String { growing ? "public, max-age=5" : "public, max-age=3600" }
    }

    private func source(of entry: PlaybackDirectory.Entry, for request: ImageRequest) async throws -> Source {
        switch entry.target {
        case .liveStream(let stream):
            if request.kind == .storyboard { throw ImageError.invalid("storyboards are made of assets: use the asset's playback ID") }
            guard let packager = packagers.packager(liveStreamID: stream), packager.isPlayable else {
                // As Mux: latest on a stream that is not live is a wrong parameter.
                throw request.latest ? ImageError.invalid("latest is for live streams that are live") : ImageError.notActive
            }
            var source = Source(timeline: packager.timeline, directory: packagers.directory(of: stream), packager: packager,
                                videoSize: packager.variant?.resolution, growing: true)
            if let asset = packager.assetID, let recording = recorder.recording(of: asset) {
                source.recording = (PlaylistTimeline(recording.state.playlist), recorder.directory(of: asset))
            }
            guard !source.timeline.entries.isEmpty else { throw ImageError.notActive }
            return source
        case .asset(let id):
            if request.latest { throw ImageError.invalid("latest is for live streams only") }
            let directory = recorder.directory(of: id)
            if let recording = recorder.recording(of: id) {
                let progress = recording.state
                guard !progress.playlist.segments.isEmpty else { throw ImageError.assetPreparing }
                return Source(timeline: PlaylistTimeline(progress.playlist), directory: directory, videoSize: progress.variant?.resolution,
                              growing: true)
            }
            guard let asset = try await assets.asset(id: id) else { throw ImageError.notFound }
            let path = directory + "/index.m3u8"
            let playlist = await BlockingWork.run { () -> MediaPlaylist? in
                SegmentFiles.read(path: path).flatMap { try? MediaPlaylist(parsing: String(buffer: $0)) }
            }
            guard let playlist, !playlist.segments.isEmpty else { throw ImageError.assetPreparing }
            return Source(timeline: PlaylistTimeline(playlist), directory: directory, videoSize: asset.video?.resolution, growing: asset.isLive)
        }
    }

    // MARK: What to decode

    /// A picture asked past the end shows the last quarter second (a segment's last picture starts
    /// up to a frame before its end).
    static let endMargin = MediaTime.timescale / 4

    private func job(_ request: ImageRequest, id: String, _ source: Source) throws -> (ImageJob, cacheControl: String) {
        switch request.kind {
        case .thumbnail:
            if request.latest || (request.time == nil && source.packager != nil) {
                let entry = newest(id: id, request, source.timeline)
                var same = request
                same.latest = true
                return (ImageJob(inputs: [try input(source.timeline, entry..<entry + 1, offset: 0, source.directory)], picture: .thumbnail(same)),
                        "public, max-age=\(max(1, Int(latestInterval.rounded(.up))))")
            }
            let timeline = source.timeline
            let time = request.time.map { MediaTime.ticks(seconds: $0) } ?? timeline.start + timeline.duration / 2
            let (chosen, directory) = pick(time, source)
            guard let span = chosen.span(from: clamped(time, chosen), to: clamped(time, chosen) + MediaTime.timescale / 2) else {
                throw ImageError.notActive
            }
            // The segment after too: a time in a segment's last frame interval shows the next one's first picture.
            return (ImageJob(inputs: [try input(chosen, span.indices, offset: MediaTime.seconds(ticks: span.offset), directory)],
                             picture: .thumbnail(request)), source.cacheControl)
        case .animated:
            let start = MediaTime.ticks(seconds: request.start), end = MediaTime.ticks(seconds: request.end)
            let (chosen, directory) = pick(start, source)
            guard let span = chosen.span(from: clamped(start, chosen), to: end) else { throw ImageError.notActive }
            return (ImageJob(inputs: [try input(chosen, span.indices, offset: MediaTime.seconds(ticks: span.offset), directory)],
                             picture: .animated(request)), source.cacheControl)
        case .storyboard:
            let board = try storyboard(request, source)
            let inputs = try (0..<board.count).compactMap { index -> ImageJob.Input? in
                guard let (entry, _) = source.timeline.locate(MediaTime.ticks(seconds: board.time(of: index))) else { return nil }
                return try input(source.timeline, entry..<entry + 1, offset: 0, source.directory)
            }
            guard !inputs.isEmpty else { throw ImageError.assetPreparing }
            let grid = ImageJob.Grid(format: request.tileFormat, tileWidth: Storyboard.tileWidth, tileHeight: board.tileHeight, columns: Storyboard.columns)
            return (ImageJob(inputs: inputs, picture: .storyboard(grid)), source.cacheControl)
        }
    }

    /// The newest segment of the live window, or the one chosen less than `latestInterval` ago while
    /// the window still lists it: one decode per stream and options per interval.
    private func newest(id: String, _ request: ImageRequest, _ timeline: PlaylistTimeline) -> Int {
        var same = request
        same.latest = true  // asked for, or the default: one choice
        let key = "\(id)|\(same)", now = ContinuousClock.now
        let newest = timeline.entries.count - 1
        return latest.chosen.withLock { latest in
            if let chosen = latest[key], now - chosen.at < .seconds(latestInterval),
               let index = timeline.entries.lastIndex(where: { $0.uri == chosen.uri }) {
                return index
            }
            if latest.count >= 10_000 { latest.removeAll(keepingCapacity: true) }
            latest[key] = (timeline.entries[newest].uri, now)
            return newest
        }
    }

    /// A live stream's recording, when it records and holds `time` (it counts from the broadcast's
    /// start, even after a restart that resumed the live window), else the live window.
    private func pick(_ time: Int64, _ source: Source) -> (PlaylistTimeline, String) {
        if let recording = source.recording, !recording.timeline.entries.isEmpty, time < recording.timeline.end - Self.endMargin {
            return recording
        }
        return (source.timeline, source.directory)
    }

    /// `time` within the run of segments (up to a discontinuity) showing it, by ``endMargin`` from its
    /// end: past a run's last picture ffmpeg would decode nothing.
    private func clamped(_ time: Int64, _ timeline: PlaylistTimeline) -> Int64 {
        guard let (index, _) = timeline.locate(time) else { return time }
        let entry = timeline.entries[index]
        return max(entry.start, min(time, timeline.runEnd(of: index) - Self.endMargin))
    }

    private func input(_ timeline: PlaylistTimeline, _ indices: Range<Int>, offset: Double, _ directory: String) throws -> ImageJob.Input {
        let entries = timeline.entries[indices]
        // Names from a playlist on disk: only plain file names reach ffmpeg.
        guard entries.allSatisfy({ ImageJob.isFileName($0.uri) && ($0.map.map(ImageJob.isFileName) ?? true) }) else {
            throw ImageError.notFound
        }
        var files = entries.first?.map.map { [directory + "/" + $0] } ?? []
        files += entries.map { directory + "/" + $0.uri }
        return ImageJob.Input(files: files, offset: offset, duration: MediaTime.seconds(ticks: entries.reduce(0) { $0 + $1.duration }))
    }

    private func storyboard(_ request: ImageRequest, _ source: Source) throws -> Storyboard {
        let timeline = source.timeline
        let duration = MediaTime.seconds(ticks: timeline.duration)
        let start = min(request.clipStart ?? 0, duration), end = min(request.clipEnd ?? duration, duration)
        guard end > start else { throw ImageError.invalid("asset_start_time is past the asset's end") }
        return Storyboard(start: start, end: end, videoSize: source.videoSize)
    }

    /// The request's Host when it is a plain host[:port] (names, IPv4, bracketed IPv6), else localhost.
    static func host(_ request: Request) -> String {
        guard let authority = request.head.authority, !authority.isEmpty, authority.utf8.count <= 255,
              authority.utf8.allSatisfy({ ASCII.isAlphanumeric($0) || ".-:[]".utf8.contains($0) }) else { return "localhost" }
        return authority
    }

    private static func clipQuery(_ request: ImageRequest) -> String? {
        let pairs = [request.clipStart.map { "asset_start_time=\($0)" }, request.clipEnd.map { "asset_end_time=\($0)" }].compactMap { $0 }
        return pairs.isEmpty ? nil : pairs.joined(separator: "&")
    }

    // MARK: Responses

    /// The picture with its ETag (304 when the client has it), CORS and caching, HEAD honoured.
    static func respond(_ request: Request, _ image: ImageCache.Image, contentType: String, cacheControl: String) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = contentType
        headers[.cacheControl] = cacheControl
        headers[.accessControlAllowOrigin] = "*"
        headers[.eTag] = image.etag
        if let match = request.headers[.ifNoneMatch], match.split(separator: ",").contains(where: {
            let tag = $0.trimmingCharacters(in: .whitespaces)
            return tag == image.etag || tag == "W/" + image.etag || tag == "*"
        }) {
            return Response(status: .notModified, headers: headers)
        }
        headers[.contentLength] = String(image.bytes.readableBytes)
        guard request.method != .head else { return Response(status: .ok, headers: headers, body: .init { _ in }) }
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: image.bytes))
    }
}
