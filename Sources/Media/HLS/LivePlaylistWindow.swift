/// The sliding window of a live media playlist, RFC 8216 §6.2.1 and §6.2.2.
///
/// ```
///  left the window        window (length N)                     next
///  [s0][s1][s2] ... | [s40][s41]D[s42] ... [s49] |  <- append(s50) -> s40 leaves
///                    MEDIA-SEQUENCE = 40             D leaving later -> DISCONTINUITY-SEQUENCE += 1
/// ```
/// - media sequence: the number of the first segment in the window; grows by one per evicted segment.
/// - discontinuity sequence: grows when an evicted segment carried EXT-X-DISCONTINUITY (§6.2.1).
/// - target duration: never below the configured duration rounded up, never decreasing (§6.2.1
///   forbids changing it; it only grows when an EXTINF, rounded to the nearest second, would exceed it).
public struct LivePlaylistWindow: Sendable {
    /// Largest number of segments listed.
    public let length: Int
    private var state: MediaPlaylist

    /// Creates an empty window of `length` segments (at least 1); `targetDuration` is the configured
    /// segment duration in 90 kHz ticks.
    public init(length: Int, targetDuration: Int64) {
        self.length = max(1, length)
        let seconds = max(1, Int((max(0, targetDuration) + MediaTime.timescale - 1) / MediaTime.timescale))
        state = MediaPlaylist(version: 3, targetDuration: seconds)
    }

    /// Continues a window from a parsed playlist (e.g. after a restart); ENDLIST is dropped.
    public init(length: Int, targetDuration: Int64, resuming playlist: MediaPlaylist) {
        self.init(length: length, targetDuration: targetDuration)
        state.mediaSequence = playlist.mediaSequence
        state.discontinuitySequence = playlist.discontinuitySequence
        state.targetDuration = max(state.targetDuration, playlist.targetDuration)
        for segment in playlist.segments { _ = append(segment) }
    }

    /// The playlist to publish.
    public var playlist: MediaPlaylist { state }

    /// Ticks of the segments that have left the window: where its first segment starts on the
    /// broadcast's timeline (0 after a restart resumed it: what came before is not known).
    public private(set) var removedDuration: Int64 = 0

    /// The media sequence number the next appended segment gets.
    public var nextSequenceNumber: Int { state.mediaSequence + state.segments.count }

    /// Adds a segment (clears ENDLIST: the stream goes on); returns the segments that left the
    /// window, oldest first. The caller keeps their files for a grace period before deleting them.
    public mutating func append(_ segment: PlaylistSegment) -> [PlaylistSegment] {
        state.endList = false
        state.targetDuration = max(state.targetDuration, MediaPlaylist.roundedSeconds(segment.duration))
        state.segments.append(segment)
        let excess = state.segments.count - length
        guard excess > 0 else { return [] }
        let evicted = Array(state.segments.prefix(excess))
        state.segments.removeFirst(excess)
        removedDuration += evicted.reduce(0) { $0 + max(0, $1.duration) }
        state.mediaSequence += excess
        state.discontinuitySequence += evicted.filter(\.discontinuity).count
        return evicted
    }

    /// Takes the oldest segment out of the window early (a byte budget ran out), keeping the
    /// media and discontinuity sequences right; nil when the window is empty.
    public mutating func removeOldest() -> PlaylistSegment? {
        guard !state.segments.isEmpty else { return nil }
        let oldest = state.segments.removeFirst()
        removedDuration += max(0, oldest.duration)
        state.mediaSequence += 1
        if oldest.discontinuity { state.discontinuitySequence += 1 }
        return oldest
    }

    /// Ends the stream: the playlist gets EXT-X-ENDLIST.
    public mutating func end() {
        state.endList = true
    }
}
