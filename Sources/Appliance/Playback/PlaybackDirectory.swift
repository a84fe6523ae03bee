import Foundation
import Synchronization

/// Resolves playback IDs to live streams and assets from memory. Entries (also "no such ID") live for
/// `lifetime` seconds, so SQLite is asked at most once per ID per lifetime, and a change made by
/// the API is seen at once (App invalidates on every change), one made by the CLI within half a second
/// (the hub reads the change feed and App invalidates on its lifecycle events).
final class PlaybackDirectory: Sendable {
    struct Entry: Sendable {
        var playbackID: PlaybackID
        var target: PlaybackTarget

        /// The live stream it plays; nil for an asset's playback ID.
        var liveStreamID: String? {
            if case .liveStream(let id) = target { return id }
            return nil
        }
    }

    private struct Cached {
        var entry: Entry?
        var expires: ContinuousClock.Instant
    }

    private let lookup: @Sendable (String) async throws -> Entry?
    private let lifetime: Duration
    private let cache = Mutex<[String: Cached]>([:])
    private let maximumEntries = 100_000

    init(lifetime: Duration = .seconds(5), lookup: @escaping @Sendable (String) async throws -> Entry?) {
        self.lookup = lookup
        self.lifetime = lifetime
    }

    convenience init(store: LiveStreamStore) {
        self.init { id in try await store.playbackTarget(id).map { Entry(playbackID: $0.playbackID, target: $0.target) } }
    }

    /// The playback ID and what it plays, or nil when unknown.
    func resolve(_ id: String) async throws -> Entry? {
        let now = ContinuousClock.now
        if let cached = cache.withLock({ $0[id] }), cached.expires > now { return cached.entry }
        let entry = try await lookup(id)
        cache.withLock { cache in
            if cache.count >= maximumEntries { cache.removeAll(keepingCapacity: true) }
            cache[id] = Cached(entry: entry, expires: now + lifetime)
        }
        return entry
    }

    /// The entry if it is cached and fresh; nil when it is not (or the ID is unknown): never waits.
    func cached(_ id: String) -> Entry? {
        let now = ContinuousClock.now
        return cache.withLock { cache in
            guard let cached = cache[id], cached.expires > now else { return nil }
            return cached.entry
        }
    }

    /// Forgets everything (after an API change to streams, assets or playback IDs).
    func invalidate() { cache.withLock { $0.removeAll(keepingCapacity: true) } }
}
