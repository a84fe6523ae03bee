import Media

/// Which segments of a broadcast are on disk, which of them the live playlist lists, and which must
/// go: the grace window (a segment that left the playlist is deleted only after `graceSegments` more
/// have left, for slow players) and the byte budgets (this stream's and the appliance's; the oldest
/// segments go first, those already out of the playlist before the playlist's own). Pure: it decides,
/// the packager deletes.
struct SegmentRetention: Sendable {
    /// A segment file.
    struct File: Sendable, Equatable {
        var uri: String
        var bytes: Int64
        /// In ``MediaTime`` ticks.
        var duration: Int64
    }

    private(set) var window: LivePlaylistWindow
    /// Oldest first: the grace segments (out of the playlist), then the playlist's.
    private(set) var files: [File]
    /// How many of `files` have left the playlist.
    private(set) var graceCount = 0
    /// Bytes of `files`.
    private(set) var bytes: Int64
    let graceSegments: Int
    let maxBytes: Int64

    /// `files` are the playlist's segments already on disk (a resumed broadcast), oldest first.
    init(window: LivePlaylistWindow, graceSegments: Int, maxBytes: Int64, files: [File] = []) {
        self.window = window
        self.graceSegments = graceSegments
        self.maxBytes = maxBytes
        self.files = files
        self.bytes = files.reduce(0) { $0 + $1.bytes }
    }

    /// The playlist's segments, oldest first.
    var listed: ArraySlice<File> { files.suffix(window.playlist.segments.count) }

    /// Drops the oldest segments until `size` more bytes fit this stream's budget and the appliance's
    /// (`totalFree`: what its budget has left). Returns the files to delete; it may not be enough
    /// when nothing is left to drop.
    mutating func makeRoom(for size: Int64, totalFree: Int64) -> [File] {
        var dropped: [File] = []
        var free = totalFree
        while bytes + size > maxBytes || size > free, let file = dropOldest() {
            dropped.append(file)
            let (sum, overflow) = free.addingReportingOverflow(file.bytes)
            free = overflow ? .max : sum
        }
        return dropped
    }

    /// Removes the oldest segment, taking it out of the playlist first if it is still listed; nil when
    /// there is none.
    mutating func dropOldest() -> File? {
        guard !files.isEmpty else { return nil }
        if graceCount == 0 {
            guard window.removeOldest() != nil else { return nil }
            graceCount += 1
        }
        return removeOldest()
    }

    /// A written segment joins the playlist. Returns the files that left the grace window (to delete).
    mutating func append(_ file: File, as entry: PlaylistSegment) -> [File] {
        files.append(file)
        bytes += file.bytes
        graceCount += window.append(entry).count
        var expired: [File] = []
        while graceCount > graceSegments, let oldest = removeOldest() { expired.append(oldest) }
        return expired
    }

    /// The broadcast is over: the playlist gets EXT-X-ENDLIST.
    mutating func end() { window.end() }

    private mutating func removeOldest() -> File? {
        guard !files.isEmpty, graceCount > 0 else { return nil }
        graceCount -= 1
        let oldest = files.removeFirst()
        bytes -= oldest.bytes
        return oldest
    }
}
