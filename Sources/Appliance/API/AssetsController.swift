import Foundation
import Hummingbird

/// Mux's assets API (`/video/v1/assets`), for the assets recorded from live streams: same paths,
/// bodies, `{"data": ...}` envelope and status codes (reference/mux-api.md §5.1). Reads go to the
/// store; changes through ``AssetService``. Creating assets from a URL or an upload is not offered:
/// every asset here is a recording.
struct AssetsController: Sendable {
    let assets: AssetStore
    let service: AssetService
    let maxBodySize: Int

    func register<Context: RequestContext>(on group: RouterGroup<Context>) {
        group.get("assets") { request, _ in try await list(request) }
        group.post("assets") { request, _ -> Response in
            _ = try await collect(request)
            throw MuxError.invalid("onair records assets from live streams (new_asset_settings); it does not ingest files from a URL or an upload")
        }
        group.get("assets/:asset_id") { _, context in try APIResponse.envelope(AssetJSON(try await asset(context))) }
        group.patch("assets/:asset_id") { request, context in try await update(request, context) }
        group.delete("assets/:asset_id") { _, context in
            guard try await service.delete(id: try context.parameters.require("asset_id")) else { throw MuxError.notFound }
            return Response(status: .noContent)
        }
        group.post("assets/:asset_id/playback-ids") { request, context in try await createPlaybackID(request, context) }
        group.get("assets/:asset_id/playback-ids/:playback_id") { _, context in
            let asset = try await asset(context)
            let id = try context.parameters.require("playback_id")
            guard let playbackID = asset.playbackIDs.first(where: { $0.id == id }) else { throw MuxError.notFound }
            return try APIResponse.envelope(PlaybackIDJSON(playbackID))
        }
        group.post("assets/:asset_id/static-renditions") { request, context in try await createStaticRendition(request, context) }
        group.delete("assets/:asset_id/static-renditions/:rendition_id") { _, context in
            guard try await service.deleteStaticRendition(assetID: try context.parameters.require("asset_id"),
                                                          id: try context.parameters.require("rendition_id")) else { throw MuxError.notFound }
            return Response(status: .noContent)
        }
        group.put("assets/:asset_id/mp4-support") { request, context in
            let id = try context.parameters.require("asset_id")
            var body = try LiveStreamRequest(body: try await collect(request))
            let support = body.mp4Support()
            if support == nil { body.require("mp4_support") }
            try body.check()
            guard let updated = try await service.setMP4Support(assetID: id, Asset.MP4Support(rawValue: support!)!) else { throw MuxError.notFound }
            return try APIResponse.envelope(AssetJSON(updated))
        }
        group.put("assets/:asset_id/master-access") { request, context in
            let id = try context.parameters.require("asset_id")
            var body = try LiveStreamRequest(body: try await collect(request))
            if body.masterAccess() == nil { body.require("master_access") }
            try body.check()
            guard let updated = try await service.setMasterAccess(assetID: id, false) else { throw MuxError.notFound }
            return try APIResponse.envelope(AssetJSON(updated))
        }
        group.delete("assets/:asset_id/playback-ids/:playback_id") { _, context in
            guard try await service.deletePlaybackID(assetID: try context.parameters.require("asset_id"),
                                                     id: try context.parameters.require("playback_id")) else { throw MuxError.notFound }
            return Response(status: .noContent)
        }
    }

    private func list(_ request: Request) async throws -> Response {
        let query = request.uri.queryParameters
        let limit = try APIResponse.integer(query.get("limit"), name: "limit", range: 1...100) ?? 25
        let page = try APIResponse.integer(query.get("page"), name: "page", range: 1...Int.max) ?? 1
        if query.get("cursor") != nil { throw MuxError.invalid("cursor is not supported: use page and limit") }
        let found = try await assets.assets(limit: limit, page: page, liveStreamID: query.get("live_stream_id"))
        return try APIResponse.envelope(found.map { AssetJSON($0) }, nextCursor: true)
    }

    private func update(_ request: Request, _ context: some RequestContext) async throws -> Response {
        let id = try context.parameters.require("asset_id")
        var body = try LiveStreamRequest(body: try await collect(request))
        let passthrough = body.string("passthrough", maxLength: 255)
        let meta = body.assetMeta()
        try body.check()
        guard let updated = try await service.update(id: id, passthrough: passthrough, meta: meta) else { throw MuxError.notFound }
        return try APIResponse.envelope(AssetJSON(updated))
    }

    private func createPlaybackID(_ request: Request, _ context: some RequestContext) async throws -> Response {
        let id = try context.parameters.require("asset_id")
        var body = try LiveStreamRequest(body: try await collect(request))
        let policy = body.playbackPolicy()
        try body.check()
        guard let policy, let created = try await service.addPlaybackID(assetID: id, policy: policy) else { throw MuxError.notFound }
        return try APIResponse.envelope(PlaybackIDJSON(created), status: .created)
    }

    private func createStaticRendition(_ request: Request, _ context: some RequestContext) async throws -> Response {
        let id = try context.parameters.require("asset_id")
        var body = try LiveStreamRequest(body: try await collect(request))
        let name = body.rendition()
        let passthrough = body.string("passthrough", maxLength: 255)
        try body.check()
        guard let name, let rendition = try await service.addStaticRendition(assetID: id, name: name, passthrough: passthrough),
              let asset = try await assets.asset(id: id) else { throw MuxError.notFound }
        return try APIResponse.envelope(StaticRenditionJSON(rendition, asset: asset), status: .created)
    }

    private func asset(_ context: some RequestContext) async throws -> Asset {
        guard let asset = try await assets.asset(id: try context.parameters.require("asset_id")) else { throw MuxError.notFound }
        return asset
    }

    private func collect(_ request: Request) async throws -> ByteBuffer {
        try await APIResponse.collect(request, upTo: maxBodySize)
    }
}
