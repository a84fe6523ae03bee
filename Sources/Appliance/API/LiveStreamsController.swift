import Foundation
import Hummingbird

/// Mux's live-stream API (`/video/v1/live-streams`, `/video/v1/playback-ids`): same paths, bodies,
/// `{"data": ...}` envelope and status codes, so the official SDKs work against onair. Reads go to
/// the store; every change goes through ``LiveStreamService``, as the CLI's do.
struct LiveStreamsController: Sendable {
    let store: LiveStreamStore
    let service: LiveStreamService
    let simulcast: Simulcast
    let maxBodySize: Int

    func register<Context: RequestContext>(on group: RouterGroup<Context>) {
        group.post("live-streams") { request, context in try await create(request, context) }
        group.get("live-streams") { request, _ in try await list(request) }
        group.get("live-streams/:id") { _, context in try APIResponse.envelope(json(try await stream(context))) }
        group.patch("live-streams/:id") { request, context in try await update(request, context) }
        group.delete("live-streams/:id") { _, context in try await delete(context) }
        group.post("live-streams/:id/reset-stream-key") { request, context in try await resetKey(request, context) }
        group.put("live-streams/:id/complete") { request, context in
            try await action(request, context) { try await service.complete(id: $0) }
        }
        group.put("live-streams/:id/disable") { request, context in
            try await action(request, context) { try await service.setDisabled(id: $0, true) }
        }
        group.put("live-streams/:id/enable") { request, context in
            try await action(request, context) { try await service.setDisabled(id: $0, false) }
        }
        group.post("live-streams/:id/playback-ids") { request, context in try await createPlaybackID(request, context) }
        group.get("live-streams/:id/playback-ids/:playback_id") { _, context in
            try APIResponse.envelope(PlaybackIDJSON(try await playbackID(context).playbackID))
        }
        group.delete("live-streams/:id/playback-ids/:playback_id") { _, context in try await deletePlaybackID(context) }
        group.get("playback-ids/:playback_id") { _, context in try await lookupPlaybackID(context) }
    }

    // MARK: Handlers

    private func create(_ request: Request, _ context: some RequestContext) async throws -> Response {
        var body = try LiveStreamRequest(body: try await collect(request))
        let created = try await service.create(try body.newLiveStream())
        context.logger.info("live stream created", metadata: ["live_stream_id": "\(created.id)"])
        for target in created.simulcastTargets ?? [] { simulcast.announce(.created, target, liveStreamID: created.id) }
        return try APIResponse.envelope(json(created), status: .created)
    }

    private func list(_ request: Request) async throws -> Response {
        let query = request.uri.queryParameters
        let limit = try APIResponse.integer(query.get("limit"), name: "limit", range: 1...100) ?? 25
        let page = try APIResponse.integer(query.get("page"), name: "page", range: 1...Int.max) ?? 1
        var status: LiveStream.Status?
        if let text = query.get("status") {
            guard let value = LiveStream.Status(rawValue: text) else { throw MuxError.invalid("status must be one of idle, active, disabled") }
            status = value
        }
        let streamKey = query.get("stream_key")
        return try APIResponse.envelope(try await store.liveStreams(limit: limit, page: page, status: status, streamKey: streamKey).map(json))
    }

    private func update(_ request: Request, _ context: some RequestContext) async throws -> Response {
        let id = try context.parameters.require("id")
        var body = try LiveStreamRequest(body: try await collect(request))
        let changes = try body.update()
        guard let updated = try await service.update(id: id, changes) else { throw MuxError.notFound }
        return try APIResponse.envelope(json(updated))
    }

    private func delete(_ context: some RequestContext) async throws -> Response {
        let id = try context.parameters.require("id")
        let targets = try await store.liveStream(id: id)?.simulcastTargets ?? []
        guard try await service.delete(id: id) else { throw MuxError.notFound }
        for target in targets { simulcast.announce(.deleted, target, liveStreamID: id) }
        context.logger.info("live stream deleted", metadata: ["live_stream_id": "\(id)"])
        return Response(status: .noContent)
    }

    private func resetKey(_ request: Request, _ context: some RequestContext) async throws -> Response {
        _ = try await collect(request)
        let id = try context.parameters.require("id")
        guard let updated = try await service.resetStreamKey(id: id) else { throw MuxError.notFound }
        context.logger.info("stream key reset", metadata: ["live_stream_id": "\(id)"])
        return try APIResponse.envelope(json(updated), status: .created)
    }

    /// enable, disable, complete: an empty body (or `{}`) in, `{"data": {}}` out.
    private func action(_ request: Request, _ context: some RequestContext,
                        _ perform: (String) async throws -> Bool) async throws -> Response {
        _ = try await collect(request)
        guard try await perform(try context.parameters.require("id")) else { throw MuxError.notFound }
        return try APIResponse.envelope([String: String]())
    }

    private func createPlaybackID(_ request: Request, _ context: some RequestContext) async throws -> Response {
        let id = try context.parameters.require("id")
        var body = try LiveStreamRequest(body: try await collect(request))
        let policy = body.playbackPolicy()
        try body.check()
        guard let policy, let created = try await service.addPlaybackID(liveStreamID: id, policy: policy) else { throw MuxError.notFound }
        return try APIResponse.envelope(PlaybackIDJSON(created), status: .created)
    }

    private func deletePlaybackID(_ context: some RequestContext) async throws -> Response {
        let id = try context.parameters.require("id")
        let playbackID = try context.parameters.require("playback_id")
        guard try await service.deletePlaybackID(liveStreamID: id, id: playbackID) else { throw MuxError.notFound }
        return Response(status: .noContent)
    }

    private func lookupPlaybackID(_ context: some RequestContext) async throws -> Response {
        let id = try context.parameters.require("playback_id")
        guard let found = try await store.playbackTarget(id) else { throw MuxError.notFound }
        let object: PlaybackIDLookup.Object = switch found.target {
        case .liveStream(let stream): .init(id: stream, type: "live_stream")
        case .asset(let asset): .init(id: asset, type: "asset")
        }
        return try APIResponse.envelope(PlaybackIDLookup(id: found.playbackID.id, policy: found.playbackID.policy.rawValue, object: object))
    }

    // MARK: Helpers

    /// The stream's JSON with its simulcast targets' statuses as they are now.
    private func json(_ stream: LiveStream) -> LiveStreamJSON {
        LiveStreamJSON(stream, simulcastStatus: { [simulcast] in simulcast.status(of: $0) })
    }

    private func stream(_ context: some RequestContext) async throws -> LiveStream {
        guard let stream = try await store.liveStream(id: try context.parameters.require("id")) else { throw MuxError.notFound }
        return stream
    }

    private func playbackID(_ context: some RequestContext) async throws -> (playbackID: PlaybackID, liveStreamID: String) {
        let id = try context.parameters.require("id")
        guard let found = try await store.playbackID(try context.parameters.require("playback_id")), found.liveStreamID == id else {
            throw MuxError.notFound
        }
        return found
    }

    private func collect(_ request: Request) async throws -> ByteBuffer {
        try await APIResponse.collect(request, upTo: maxBodySize)
    }
}

/// `GET /video/v1/playback-ids/{id}`: what a playback ID plays.
private struct PlaybackIDLookup: Encodable {
    struct Object: Encodable {
        let id: String
        let type: String
    }
    let id: String
    let policy: String
    let object: Object
}
