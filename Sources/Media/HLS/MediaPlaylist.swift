/// A media playlist, RFC 8216 §4.3.3 (playlist tags) and §4.3.2 (segment tags), version 3.
///
/// ```
/// #EXTM3U
/// #EXT-X-VERSION:3
/// #EXT-X-TARGETDURATION:2
/// #EXT-X-MEDIA-SEQUENCE:42
/// #EXT-X-DISCONTINUITY-SEQUENCE:1        (only when > 0; absent means 0, §4.3.3.3)
/// #EXT-X-DISCONTINUITY                   per segment, optional
/// #EXT-X-PROGRAM-DATE-TIME:2026-11-29T08:20:06.123Z
/// #EXTINF:2.002,                         milliseconds: floating point needs version >= 3 (§4.3.2.1)
/// 42.ts
/// #EXT-X-ENDLIST                         when the stream has ended
/// ```
public struct MediaPlaylist: Sendable, Equatable {
    /// EXT-X-VERSION.
    public var version: Int
    /// EXT-X-TARGETDURATION in whole seconds: at least every EXTINF rounded to the nearest integer.
    public var targetDuration: Int
    /// EXT-X-MEDIA-SEQUENCE: the sequence number of the first segment.
    public var mediaSequence: Int
    /// EXT-X-DISCONTINUITY-SEQUENCE: discontinuities that have left the playlist.
    public var discontinuitySequence: Int
    /// The segments, oldest first.
    public var segments: [PlaylistSegment]
    /// Whether EXT-X-ENDLIST closes the playlist.
    public var endList: Bool

    /// Creates a playlist.
    public init(
        version: Int = 3,
        targetDuration: Int,
        mediaSequence: Int = 0,
        discontinuitySequence: Int = 0,
        segments: [PlaylistSegment] = [],
        endList: Bool = false
    ) {
        self.version = version
        self.targetDuration = targetDuration
        self.mediaSequence = mediaSequence
        self.discontinuitySequence = discontinuitySequence
        self.segments = segments
        self.endList = endList
    }

    /// The playlist text, lines ending in `\n`.
    public func render() -> String {
        var lines = [
            "#EXTM3U",
            "#EXT-X-VERSION:\(version)",
            "#EXT-X-TARGETDURATION:\(targetDuration)",
            "#EXT-X-MEDIA-SEQUENCE:\(mediaSequence)",
        ]
        if discontinuitySequence > 0 { lines.append("#EXT-X-DISCONTINUITY-SEQUENCE:\(discontinuitySequence)") }
        for segment in segments {
            if segment.discontinuity { lines.append("#EXT-X-DISCONTINUITY") }
            if let time = segment.programDateTime {
                lines.append("#EXT-X-PROGRAM-DATE-TIME:" + ProgramDateTime.format(millisecondsSinceEpoch: time))
            }
            lines.append("#EXTINF:\(Self.formatDuration(segment.duration)),")
            lines.append(segment.uri)
        }
        if endList { lines.append("#EXT-X-ENDLIST") }
        return lines.joined(separator: "\n") + "\n"
    }

    /// Ticks as seconds with three decimals (`2.002`), rounded to the nearest millisecond; negative as 0.
    static func formatDuration(_ ticks: Int64) -> String {
        let milliseconds = max(0, MediaTime.milliseconds(ticks: ticks))
        let fraction = String(milliseconds % 1000)
        return "\(milliseconds / 1000)." + String(repeating: "0", count: 3 - fraction.count) + fraction
    }

    /// The EXTINF value rounded to the nearest whole second, as §4.3.3.1 compares it with the target.
    static func roundedSeconds(_ ticks: Int64) -> Int {
        Int((max(0, MediaTime.milliseconds(ticks: ticks)) + 500) / 1000)
    }
}
