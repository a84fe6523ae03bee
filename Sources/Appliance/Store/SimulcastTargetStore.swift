import GRDB

/// The simulcast targets of live streams, in the store's database (table `simulcast_target`; a
/// stream's targets are read with it and go with it). Mux's rules are checked in the same
/// transaction as the change: no change while the stream is active, at most
/// ``SimulcastTarget/limit`` per stream.
struct SimulcastTargetStore: Sendable {
    enum Refusal: Error, Equatable {
        case noSuchStream
        case noSuchTarget
        case active
        case tooMany
    }

    let store: LiveStreamStore

    /// Adds a target to an idle (or disabled) stream.
    func create(liveStreamID: String, url: String, streamKey: String?, passthrough: String?) async throws -> Result<SimulcastTarget, Refusal> {
        try await store.write { db in
            guard let status = try String.fetchOne(db, sql: "SELECT status FROM live_stream WHERE id = ?", arguments: [liveStreamID]) else {
                return .failure(.noSuchStream)
            }
            guard status != LiveStream.Status.active.rawValue else { return .failure(.active) }
            let count = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM simulcast_target WHERE live_stream_id = ?", arguments: [liveStreamID]) ?? 0
            guard count < SimulcastTarget.limit else { return .failure(.tooMany) }
            let target = SimulcastTarget(id: Identifier.opaque(), url: url, streamKey: streamKey, passthrough: passthrough)
            try LiveStreamStore.insert(target, liveStreamID: liveStreamID, db)
            return .success(target)
        }
    }

    /// The target `id` of the stream, or why there is none.
    func target(liveStreamID: String, id: String) async throws -> Result<SimulcastTarget, Refusal> {
        try await store.read { db in
            guard let stream = try LiveStreamStore.fetch(db, where: "id = ?", [liveStreamID]).first else { return .failure(.noSuchStream) }
            guard let target = stream.simulcastTargets?.first(where: { $0.id == id }) else { return .failure(.noSuchTarget) }
            return .success(target)
        }
    }

    /// Removes a target of an idle (or disabled) stream.
    func delete(liveStreamID: String, id: String) async throws -> Result<SimulcastTarget, Refusal> {
        try await store.write { db in
            guard let stream = try LiveStreamStore.fetch(db, where: "id = ?", [liveStreamID]).first else { return .failure(.noSuchStream) }
            guard let target = stream.simulcastTargets?.first(where: { $0.id == id }) else { return .failure(.noSuchTarget) }
            guard stream.status != .active else { return .failure(.active) }
            try db.execute(sql: "DELETE FROM simulcast_target WHERE id = ? AND live_stream_id = ?", arguments: [id, liveStreamID])
            return .success(target)
        }
    }
}
