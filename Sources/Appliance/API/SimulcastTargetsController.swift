import Foundation
import Hummingbird

/// Mux's simulcast-target API: `POST /video/v1/live-streams/{id}/simulcast-targets` (201),
/// `GET` and `DELETE .../simulcast-targets/{target_id}` (200, 204), with Mux's rules (only while the
/// stream is not active, at most 6, an rtmp:// or rtmps:// `url`). Each change is announced as
/// `video.live_stream.simulcast_target.created` / `.deleted`.
struct SimulcastTargetsController: Sendable {
    let targets: SimulcastTargetStore
    let simulcast: Simulcast
    /// Whether a broadcast of the stream is in progress (from the encoder's connect to its end,
    /// reconnect window included; the stream's status becomes active only once it is playable).
    let isBroadcasting: @Sendable (String) -> Bool
    let maxBodySize: Int

    func register<Context: RequestContext>(on group: RouterGroup<Context>) {
        group.post("live-streams/:id/simulcast-targets") { request, context in try await create(request, context) }
        group.get("live-streams/:id/simulcast-targets/:target_id") { _, context in
            let target = try Self.found(try await targets.target(liveStreamID: try context.parameters.require("id"),
                                                                 id: try context.parameters.require("target_id")))
            return try APIResponse.envelope(SimulcastTargetJSON(target: target, status: simulcast.status(of: target.id)))
        }
        group.delete("live-streams/:id/simulcast-targets/:target_id") { _, context in try await delete(context) }
    }

    private func create(_ request: Request, _ context: some RequestContext) async throws -> Response {
        let id = try context.parameters.require("id")
        var body = try LiveStreamRequest(body: try await APIResponse.collect(request, upTo: maxBodySize))
        let new = try body.simulcastTarget()
        guard !isBroadcasting(id) else { throw Self.active }
        let target = try Self.found(try await targets.create(liveStreamID: id, url: new.url, streamKey: new.streamKey, passthrough: new.passthrough))
        simulcast.announce(.created, target, liveStreamID: id)
        context.logger.info("simulcast target created", metadata: ["live_stream_id": "\(id)", "simulcast_target_id": "\(target.id)"])
        return try APIResponse.envelope(SimulcastTargetJSON(target: target, status: .idle), status: .created)
    }

    private func delete(_ context: some RequestContext) async throws -> Response {
        let id = try context.parameters.require("id")
        if isBroadcasting(id) {
            _ = try Self.found(try await targets.target(liveStreamID: id, id: try context.parameters.require("target_id")))
            throw Self.active
        }
        let target = try Self.found(try await targets.delete(liveStreamID: id, id: try context.parameters.require("target_id")))
        simulcast.announce(.deleted, target, liveStreamID: id)
        context.logger.info("simulcast target deleted", metadata: ["live_stream_id": "\(id)", "simulcast_target_id": "\(target.id)"])
        return Response(status: .noContent)
    }

    private static let active = MuxError.invalid(
        "Simulcast targets can only be created or deleted while the live stream is idle; this one is broadcasting")

    private static func found(_ result: Result<SimulcastTarget, SimulcastTargetStore.Refusal>) throws -> SimulcastTarget {
        switch result {
        case .success(let target): return target
        case .failure(.noSuchStream), .failure(.noSuchTarget): throw MuxError.notFound
        case .failure(.active):
            throw active
        case .failure(.tooMany):
            throw MuxError.invalid("A live stream can have at most \(SimulcastTarget.limit) simulcast targets")
        }
    }
}
