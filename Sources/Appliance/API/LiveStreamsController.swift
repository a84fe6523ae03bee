import Foundation
import Hummingbird

/// Mux's live-stream API (`/video/v1/live-streams`, `/video/v1/playback-ids`): same paths, bodies,
/// `{"data": ...}` envelope and status codes, so the official SDKs work against onair.
struct LiveStreamsController: Sendable {
    let store: LiveStreamStore
    let hub: StreamHub
    let playback: PlaybackDirectory
    let packagers: PackagerFactory
    let maxBodySize: Int

    func register<Context: RequestContext>(on group: RouterGroup<Context>) {
        group.post("live-streams") { request, context in try await create(request, context) }
        group.get("live-streams") { request, _ in try list(request) }
        group.get("live-streams/:id") { _, context in try envelope(try stream(context)) }
        group.patch("live-streams/:id") { request, context in try await update(request, context) }
        group.delete("live-streams/:id") { _, context in try await delete(context) }
        group.post("live-streams/:id/reset-stream-key") { request, context in try await resetKey(request, context) }
        group.put("live-streams/:id/complete") { request, context in try await action(request, context) { await hub.complete(liveStreamID: $0.id) } }
        group.put("live-streams/:id/disable") { request, context in try await disable(request, context, true) }
        group.put("live-streams/:id/enable") { request, context in try await disable(request, context, false) }
        group.post("live-streams/:id/playback-ids") { request, context in try await createPlaybackID(request, context) }
        group.get("live-streams/:id/playback-ids/:playback_id") { _, context in try envelope(try playbackID(context).playbackID) }
        group.delete("live-streams/:id/playback-ids/:playback_id") { _, context in try deletePlaybackID(context) }
        group.get("playback-ids/:playback_id") { _, context in try lookupPlaybackID(context) }
    }

    // MARK: Handlers

    private func create(_ request: Request, _ context: some RequestContext) async throws -> Response {
        var body = try LiveStreamRequest(body: try await collect(request))
        let created = try store.create(try body.newLiveStream())
        context.logger.info("live stream created", metadata: ["live_stream_id": "\(created.id)"])
        return try envelope(created, status: .created)
    }

    private func list(_ request: Request) throws -> Response {
        let query = request.uri.queryParameters
        let limit = try Self.integer(query.get("limit"), name: "limit", range: 1...100) ?? 25
        let page = try Self.integer(query.get("page"), name: "page", range: 1...1_000_000) ?? 1
        var status: LiveStream.Status?
        if let text = query.get("status") {
            guard let value = LiveStream.Status(rawValue: text) else { throw MuxError.invalid("status must be one of idle, active, disabled") }
            status = value
        }
        let streamKey = query.get("stream_key")
        return try envelope(try store.liveStreams(limit: limit, page: page, status: status, streamKey: streamKey))
    }

    private func update(_ request: Request, _ context: some RequestContext) async throws -> Response {
        let id = try context.parameters.require("id")
        var body = try LiveStreamRequest(body: try await collect(request))
        let changes = try body.update()
        guard let updated = try store.update(id: id, changes) else { throw MuxError.notFound }
        return try envelope(updated)
    }

    private func delete(_ context: some RequestContext) async throws -> Response {
        let stream = try stream(context)
        guard try store.delete(id: stream.id) else { throw MuxError.notFound }
        playback.invalidate()
        await hub.stop(liveStreamID: stream.id, reason: "live stream deleted")
        packagers.removeFiles(of: stream.id)
        context.logger.info("live stream deleted", metadata: ["live_stream_id": "\(stream.id)"])
        return Response(status: .noContent)
    }

    private func resetKey(_ request: Request, _ context: some RequestContext) async throws -> Response {
        _ = try await collect(request)
        let id = try context.parameters.require("id")
        guard let updated = try store.resetStreamKey(id: id) else { throw MuxError.notFound }
        await hub.disconnectPublisher(liveStreamID: id, reason: "stream key reset")
        context.logger.info("stream key reset", metadata: ["live_stream_id": "\(id)"])
        return try envelope(updated, status: .created)
    }

    private func disable(_ request: Request, _ context: some RequestContext, _ disabled: Bool) async throws -> Response {
        try await action(request, context) { stream in
            _ = try store.setDisabled(id: stream.id, disabled)
            if disabled { await hub.stop(liveStreamID: stream.id, reason: "live stream disabled") }
        }
    }

    /// enable, disable, complete: an empty body (or `{}`) in, `{"data": {}}` out.
    private func action(_ request: Request, _ context: some RequestContext,
                        _ perform: (LiveStream) async throws -> Void) async throws -> Response {
        _ = try await collect(request)
        try await perform(try stream(context))
        return try envelope([String: String]())
    }

    private func createPlaybackID(_ request: Request, _ context: some RequestContext) async throws -> Response {
        let id = try context.parameters.require("id")
        var body = try LiveStreamRequest(body: try await collect(request))
        let policy = body.playbackPolicy()
        try body.check()
        guard let policy, let created = try store.addPlaybackID(liveStreamID: id, policy: policy) else { throw MuxError.notFound }
        playback.invalidate()
        return try envelope(created, status: .created)
    }

    private func deletePlaybackID(_ context: some RequestContext) throws -> Response {
        let id = try context.parameters.require("id")
        let playbackID = try context.parameters.require("playback_id")
        guard try store.deletePlaybackID(liveStreamID: id, id: playbackID) else { throw MuxError.notFound }
        playback.invalidate()
        return Response(status: .noContent)
    }

    private func lookupPlaybackID(_ context: some RequestContext) throws -> Response {
        let id = try context.parameters.require("playback_id")
        guard let found = try store.playbackID(id) else { throw MuxError.notFound }
        return try envelope(PlaybackIDLookup(id: found.playbackID.id, policy: found.playbackID.policy,
                                             object: .init(id: found.liveStreamID, type: "live_stream")))
    }

    // MARK: Helpers

    private func stream(_ context: some RequestContext) throws -> LiveStream {
        guard let stream = try store.liveStream(id: try context.parameters.require("id")) else { throw MuxError.notFound }
        return stream
    }

    private func playbackID(_ context: some RequestContext) throws -> (playbackID: PlaybackID, liveStreamID: String) {
        let id = try context.parameters.require("id")
        guard let found = try store.playbackID(try context.parameters.require("playback_id")), found.liveStreamID == id else {
            throw MuxError.notFound
        }
        return found
    }

    private func collect(_ request: Request) async throws -> ByteBuffer {
        do {
            return try await request.body.collect(upTo: maxBodySize)
        } catch let error as HTTPResponseError where error.status == .contentTooLarge {
            throw MuxError.tooLarge(limit: maxBodySize)
        }
    }

    private static func integer(_ text: String?, name: String, range: ClosedRange<Int>) throws -> Int? {
        guard let text else { return nil }
        guard let value = Int(text), range.contains(value) else {
            throw MuxError.invalid("\(name) must be an integer between \(range.lowerBound) and \(range.upperBound)")
        }
        return value
    }

    private func envelope<T: Encodable>(_ value: T, status: HTTPResponse.Status = .ok) throws -> Response {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .withoutEscapingSlashes
        var headers = HTTPFields()
        headers[.contentType] = "application/json"
        return Response(status: status, headers: headers,
                        body: .init(byteBuffer: ByteBuffer(bytes: try encoder.encode(Envelope(data: value)))))
    }
}

/// Mux's success envelope.
private struct Envelope<Value: Encodable>: Encodable {
    let data: Value
}

/// `GET /video/v1/playback-ids/{id}`: what a playback ID plays.
private struct PlaybackIDLookup: Encodable {
    struct Object: Encodable {
        let id: String
        let type: String
    }
    let id: String
    let policy: PlaybackID.Policy
    let object: Object
}
