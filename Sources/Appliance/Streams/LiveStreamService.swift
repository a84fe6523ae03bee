/// The changes a ``LiveStreamService`` makes, each with its change-feed entry (LiveStreamStore conforms, in App).
protocol LiveStreamRepository: Sendable {
    func create(_ new: NewLiveStream) async throws -> LiveStreamChange
    func update(id: String, _ update: LiveStreamUpdate) async throws -> LiveStreamChange?
    func delete(id: String) async throws -> LiveStreamChange?
    func setDisabled(id: String, _ disabled: Bool) async throws -> LiveStreamChange?
    func resetStreamKey(id: String) async throws -> LiveStreamChange?
    func complete(id: String) async throws -> LiveStreamChange?
    func addPlaybackID(liveStreamID: String, policy: PlaybackID.Policy) async throws -> (PlaybackID, LiveStreamChange)?
    func deletePlaybackID(liveStreamID: String, id: String) async throws -> LiveStreamChange?
}

/// The one way to change live streams, for the API and the CLI alike: the change is written with its
/// change-feed entry, then handed to `carryOut`. In the server that is the hub (disconnect on delete,
/// disable and reset-key, ENDLIST on complete, lifecycle events), so the API's effects are done when it
/// answers. The CLI passes nothing: the running server reads the feed within half a second and does the same.
struct LiveStreamService: Sendable {
    let repository: any LiveStreamRepository
    let carryOut: @Sendable (LiveStreamChange) async -> Void

    init(repository: any LiveStreamRepository, carryOut: @escaping @Sendable (LiveStreamChange) async -> Void = { _ in }) {
        self.repository = repository
        self.carryOut = carryOut
    }

    /// The server's service: changes go to `hub` at once (and `also`, e.g. playback's cache).
    init(repository: any LiveStreamRepository, hub: StreamHub, also: @escaping @Sendable (LiveStreamChange) -> Void = { _ in }) {
        self.init(repository: repository) { change in
            also(change)
            await hub.apply(change)
        }
    }

    func create(_ new: NewLiveStream) async throws -> LiveStream {
        await done(try await repository.create(new))!
    }

    func update(id: String, _ update: LiveStreamUpdate) async throws -> LiveStream? {
        await done(try await repository.update(id: id, update))
    }

    /// Deletes the stream: its key stops working, a publisher is disconnected, its HLS files go.
    func delete(id: String) async throws -> Bool {
        await done(try await repository.delete(id: id)) != nil
    }

    /// Disables (publisher disconnected at once, new publishes refused) or enables the stream.
    func setDisabled(id: String, _ disabled: Bool) async throws -> Bool {
        await done(try await repository.setDisabled(id: id, disabled)) != nil
    }

    /// A new stream key; a publisher using the old one is disconnected.
    func resetStreamKey(id: String) async throws -> LiveStream? {
        await done(try await repository.resetStreamKey(id: id))
    }

    /// Mux "complete": the playlist ends now; the encoder is dropped 60 s later.
    func complete(id: String) async throws -> Bool {
        await done(try await repository.complete(id: id)) != nil
    }

    func addPlaybackID(liveStreamID: String, policy: PlaybackID.Policy) async throws -> PlaybackID? {
        guard let (playbackID, change) = try await repository.addPlaybackID(liveStreamID: liveStreamID, policy: policy) else { return nil }
        await carryOut(change)
        return playbackID
    }

    func deletePlaybackID(liveStreamID: String, id: String) async throws -> Bool {
        await done(try await repository.deletePlaybackID(liveStreamID: liveStreamID, id: id)) != nil
    }

    private func done(_ change: LiveStreamChange?) async -> LiveStream? {
        guard let change else { return nil }
        await carryOut(change)
        return change.stream
    }
}
