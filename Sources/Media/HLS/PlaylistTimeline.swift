/// A playlist's segments placed on one timeline (90 kHz ticks): where a broadcast's or a recording's
/// picture at a given time is, for thumbnails, animations and storyboards. Pure.
///
/// A live window starts where the segments that left it end (`start`); a recording starts at 0.
public struct PlaylistTimeline: Sendable, Equatable {
    public struct Entry: Sendable, Equatable {
        public var uri: String
        /// The EXT-X-MAP URI in effect (CMAF), nil for MPEG-TS.
        public var map: String?
        /// Whether a discontinuity precedes it (a publisher came back: timestamps restart).
        public var discontinuity: Bool
        public var start: Int64
        public var duration: Int64
        public var end: Int64 { start + duration }
    }

    public let entries: [Entry]

    public init(_ playlist: MediaPlaylist, start: Int64 = 0) {
        var time = max(0, start)
        entries = playlist.segments.map { segment in
            defer { time += max(0, segment.duration) }
            return Entry(uri: segment.uri, map: segment.map, discontinuity: segment.discontinuity, start: time,
                         duration: max(0, segment.duration))
        }
    }

    public var start: Int64 { entries.first?.start ?? 0 }
    public var end: Int64 { entries.last?.end ?? 0 }
    public var duration: Int64 { end - start }

    /// The entry showing `time` (clamped into the timeline: before the first segment is its start,
    /// after the last is the last one's end) and the offset into it; nil when the timeline is empty.
    public func locate(_ time: Int64) -> (index: Int, offset: Int64)? {
        guard !entries.isEmpty else { return nil }
        let clamped = min(max(time, start), end)
        var low = 0, high = entries.count - 1
        while low < high {  // the last entry that starts at or before `clamped`
            let middle = (low + high + 1) / 2
            if entries[middle].start <= clamped { low = middle } else { high = middle - 1 }
        }
        // The very end shows the last segment's last moment.
        return (low, min(clamped - entries[low].start, max(0, entries[low].duration - 1)))
    }

    /// Where the run of entries that `index` belongs to ends: at the next discontinuity or init-section
    /// change, or the timeline's end (the media of one run can be read as one stream).
    public func runEnd(of index: Int) -> Int64 {
        var last = index
        while last + 1 < entries.count, !entries[last + 1].discontinuity, entries[last + 1].map == entries[index].map { last += 1 }
        return entries[last].end
    }

    /// The entries that hold `from..<to` (clamped), from the one showing `from` up to, not over, a
    /// discontinuity or an init-section change (their bytes can then be read as one stream); nil
    /// when the timeline is empty.
    public func span(from: Int64, to: Int64) -> (indices: Range<Int>, offset: Int64)? {
        guard let (first, offset) = locate(from) else { return nil }
        var last = first
        while last + 1 < entries.count, entries[last + 1].start < to, !entries[last + 1].discontinuity,
              entries[last + 1].map == entries[first].map {
            last += 1
        }
        return (first..<(last + 1), offset)
    }
}
