import Foundation
import Synchronization

/// Resolves playback IDs to live streams from memory. Entries (also "no such ID") live for
/// `lifetime` seconds, so SQLite is asked at most once per ID per lifetime, and a change made by
/// the API is seen at once (it invalidates), one made by the CLI within the lifetime.
final class PlaybackDirectory: Sendable {
    struct Entry: Sendable {
        var playbackID: PlaybackID
        var liveStreamID: String
    }

    private struct Cached {
        var entry: Entry?
        var expires: ContinuousClock.Instant
    }

    private let lookup: @Sendable (String) throws -> Entry?
    private let lifetime: Duration
    private let cache = Mutex<[String: Cached]>([:])
    private let maximumEntries = 100_000

    init(lifetime: Duration = .seconds(5), lookup: @escaping @Sendable (String) throws -> Entry?) {
        self.lookup = lookup
        self.lifetime = lifetime
    }

    convenience init(store: LiveStreamStore) {
        self.init { id in try store.playbackID(id).map { Entry(playbackID: $0.playbackID, liveStreamID: $0.liveStreamID) } }
    }

    /// The playback ID and its stream, or nil when unknown.
    func resolve(_ id: String) throws -> Entry? {
        let now = ContinuousClock.now
        if let cached = cache.withLock({ $0[id] }), cached.expires > now { return cached.entry }
        let entry = try lookup(id)
        cache.withLock { cache in
            if cache.count >= maximumEntries { cache.removeAll(keepingCapacity: true) }
            cache[id] = Cached(entry: entry, expires: now + lifetime)
        }
        return entry
    }

    /// Forgets everything (after an API change to streams or playback IDs).
    func invalidate() { cache.withLock { $0.removeAll(keepingCapacity: true) } }
}
