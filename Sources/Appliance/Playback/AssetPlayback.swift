import Foundation
import Hummingbird
import Media
#if canImport(Glibc)
import Glibc
#endif

/// Playback of an asset by its playback ID, as stream.mux.com serves a recording:
///
/// ```
/// GET /{PLAYBACK_ID}.m3u8            multivariant playlist; 412 until the recording has a segment
/// GET /{PLAYBACK_ID}/index.m3u8      while the broadcast goes on: an EVENT playlist from the first
///                                    segment (DVR); after: the VOD playlist (ENDLIST)
/// GET /{PLAYBACK_ID}/<n>.ts|.m4s     the recording's segments and init sections, from disk, with ranges
/// GET /{PLAYBACK_ID}/highest.mp4     static renditions once built (also audio.m4a): progressive MP4,
///     [?download=NAME]               index first, ranges; `download` asks the browser to save it as NAME
/// ```
struct AssetPlayback: Sendable {
    let assets: AssetStore
    let recorder: Recorder
    let fileIO = FileIO()

    /// The multivariant playlist; `mediaPlaylist`: its variant's URI.
    func multivariant(_ asset: String, mediaPlaylist: String, _ request: Request) async throws -> Response {
        guard let asset = try await assets.asset(id: asset) else { throw PlaybackError.notFound }
        var variant: Variant?
        if let recording = recorder.recording(of: asset.id) {
            let progress = recording.state
            if !progress.playlist.segments.isEmpty, var live = progress.variant {
                live.bandwidth = progress.maxBitrate
                variant = live
            }
        } else if let codecs = asset.codecs, let bandwidth = asset.maxBitrate, asset.duration != nil {
            variant = Variant(codecs: codecs, bandwidth: bandwidth, averageBandwidth: 0, resolution: asset.video?.resolution,
                              frameRate: asset.video?.maxFrameRate)
        }
        guard let variant else { throw PlaybackError.assetPreparing }
        let media = asset.bytes - asset.staticRenditions.reduce(Int64(0)) { $0 + ($1.fileSize ?? 0) }
        let average = asset.duration.map { Int((Double(media * 8) / max($0, 0.001)).rounded(.up)) }
        let playlist = MultivariantPlaylist(variants: [MultivariantPlaylist.Variant(
            uri: mediaPlaylist, bandwidth: variant.bandwidth, averageBandwidth: min(average ?? variant.bandwidth, variant.bandwidth),
            codecs: variant.codecs, width: variant.resolution?.width, height: variant.resolution?.height, frameRate: variant.frameRate)])
        return PlaybackController.respond(request, ByteBuffer(string: playlist.render()), contentType: PlaybackController.playlistType,
                                          cacheControl: "max-age=1")
    }

    /// The media playlist, or a file of the recording.
    func file(_ asset: String, name: String, _ request: Request, context: some RequestContext) async throws -> Response {
        let directory = recorder.directory(of: asset)
        if name == "index.m3u8" {
            if let recording = recorder.recording(of: asset) {
                guard !recording.state.playlist.segments.isEmpty else { throw PlaybackError.assetPreparing }
                return PlaybackController.respond(request, recording.eventPlaylist, contentType: PlaybackController.playlistType,
                                                  cacheControl: "max-age=1")
            }
            let path = directory + "/index.m3u8"
            guard let bytes = await BlockingWork.run({ SegmentFiles.read(path: path) }) else { throw PlaybackError.notFound }
            let text = String(buffer: bytes)
            // A recording with nothing in it (errored, or left by a crash before its first segment) is not playable.
            guard text.contains("#EXTINF") else { throw PlaybackError.assetPreparing }
            if text.contains("#EXT-X-ENDLIST") {
                return PlaybackController.respond(request, bytes, contentType: PlaybackController.playlistType, cacheControl: "public, max-age=60")
            }
            // Still EVENT on disk: left by a crash (live until the sweep completes it), or its VOD
            // rewrite failed: a complete asset is served as VOD all the same.
            guard try await assets.asset(id: asset)?.isLive == false, var playlist = try? MediaPlaylist(parsing: text) else {
                return PlaybackController.respond(request, bytes, contentType: PlaybackController.playlistType, cacheControl: "max-age=1")
            }
            playlist.playlistType = .vod
            playlist.endList = true
            return PlaybackController.respond(request, ByteBuffer(string: playlist.render()), contentType: PlaybackController.playlistType,
                                              cacheControl: "public, max-age=60")
        }
        if let rendition = Asset.StaticRendition.Name(rawValue: name) {
            var response = try await send(directory + "/" + name, contentType: rendition == .audio ? "audio/mp4" : "video/mp4",
                                          cacheControl: "public, max-age=3600", request, context: context)
            if let download = request.uri.queryParameters.get("download") {
                let safe = String(download.unicodeScalars.filter { $0.isASCII && $0 != "\"" && $0 != "\\" && $0.value >= 0x20 }.prefix(200))
                response.headers[.contentDisposition] = "attachment; filename=\"\(safe.isEmpty ? name : safe)\""
            }
            return response
        }
        guard let kind = PlaybackController.mediaKind(name), kind != .part else { throw PlaybackError.notFound }
        return try await send(directory + "/" + name, contentType: kind == .transportStream ? "video/mp2t" : "video/mp4",
                              cacheControl: PlaybackController.immutable, request, context: context)
    }

    /// A file from disk, streamed by NIO's file system (a recording's files can be large), with HEAD
    /// and a single byte range.
    func send(_ path: String, contentType: String, cacheControl: String, _ request: Request, context: some RequestContext) async throws -> Response {
        let size = await BlockingWork.run { () -> Int? in
            var info = stat()
            guard stat(path, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else { return nil }
            return Int(info.st_size)
        }
        guard let size else { throw PlaybackError.notFound }
        var headers = PlaybackController.headers(contentType: contentType, cacheControl: cacheControl)
        var status = HTTPResponse.Status.ok
        var range = size > 0 ? 0...(size - 1) : nil
        if let header = request.headers[.range] {
            guard let asked = PlaybackController.byteRange(header, size: size) else {
                headers[.contentRange] = "bytes */\(size)"
                return Response(status: .rangeNotSatisfiable, headers: headers)
            }
            status = .partialContent
            headers[.contentRange] = "bytes \(asked.lowerBound)-\(asked.upperBound)/\(size)"
            range = asked
        }
        headers[.contentLength] = String(range?.count ?? 0)
        guard request.method != .head, let range else { return Response(status: status, headers: headers, body: .init { _ in }) }
        let body = try await fileIO.loadFile(path: path, range: range, context: context)
        return Response(status: status, headers: headers, body: body)
    }
}
