/// A media playlist, RFC 8216bis §4.4.3 (playlist tags), §4.4.4 (segment tags) and, for Low-Latency
/// HLS, §4.4.3.7–8, §4.4.4.9 and §4.4.5.
///
/// ```
/// #EXTM3U
/// #EXT-X-VERSION:3                       6 with EXT-X-MAP (§8), 9 in a delta update (EXT-X-SKIP)
/// #EXT-X-TARGETDURATION:2
/// #EXT-X-PLAYLIST-TYPE:EVENT             recordings: EVENT while live (append-only), VOD once final
/// #EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=1.008,CAN-SKIP-UNTIL=12   LL only
/// #EXT-X-PART-INF:PART-TARGET=0.33600                                                   LL only
/// #EXT-X-MEDIA-SEQUENCE:42
/// #EXT-X-DISCONTINUITY-SEQUENCE:1        MPEG-TS: only when > 0 (absent means 0); CMAF: always
/// #EXT-X-SKIP:SKIPPED-SEGMENTS=3         a delta update: replaces the oldest segments
/// #EXT-X-DISCONTINUITY                   per segment, optional
/// #EXT-X-MAP:URI="x-init1.mp4"           CMAF: where the init section changes (and first)
/// #EXT-X-PROGRAM-DATE-TIME:2026-11-29T08:20:06.123Z
/// #EXT-X-PART:DURATION=0.33333,URI="x-p9.m4s",INDEPENDENT=YES    newest segments' parts
/// #EXTINF:2.002,                         milliseconds
/// 42.ts
/// #EXT-X-PART:...                        the segment being filled: tags and parts, no EXTINF
/// #EXT-X-PRELOAD-HINT:TYPE=PART,URI="x-p12.m4s"
/// #EXT-X-ENDLIST                         when the stream has ended (then no hint)
/// ```
public struct MediaPlaylist: Sendable, Equatable {
    /// The Low-Latency HLS server rules (§4.4.3.8), all fixed for the stream's life.
    public struct ServerControl: Sendable, Equatable {
        /// EXT-X-PART-INF PART-TARGET in ticks: no part is longer.
        public var partTarget: Int64
        /// PART-HOLD-BACK in ticks: at least three part targets.
        public var partHoldBack: Int64
        /// CAN-SKIP-UNTIL in seconds (the skip boundary): six target durations; 0 offers no deltas.
        public var canSkipUntil: Int

        public init(partTarget: Int64, partHoldBack: Int64, canSkipUntil: Int) {
            self.partTarget = partTarget
            self.partHoldBack = partHoldBack
            self.canSkipUntil = canSkipUntil
        }
    }

    /// The segment being filled: the tags before its first part, and its parts so far.
    public struct OpenSegment: Sendable, Equatable {
        public var discontinuity: Bool
        public var programDateTime: Int64?
        public var map: String?
        public var parts: [PlaylistPart]

        public init(discontinuity: Bool = false, programDateTime: Int64? = nil, map: String? = nil, parts: [PlaylistPart] = []) {
            self.discontinuity = discontinuity
            self.programDateTime = programDateTime
            self.map = map
            self.parts = parts
        }
    }

    /// EXT-X-PLAYLIST-TYPE (§4.4.3.5): EVENT playlists only grow; VOD ones never change.
    public enum PlaylistType: String, Sendable, Equatable {
        case event = "EVENT"
        case vod = "VOD"
    }

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
    /// EXT-X-PLAYLIST-TYPE; nil for a live sliding window.
    public var playlistType: PlaylistType?
    /// Low-Latency HLS: server control and part target.
    public var serverControl: ServerControl?
    /// Low-Latency HLS: the segment being filled.
    public var openSegment: OpenSegment?
    /// Low-Latency HLS: EXT-X-PRELOAD-HINT TYPE=PART, the URI the next part will have.
    public var preloadHint: String?
    /// A delta update (§6.2.5.1): how many segments EXT-X-SKIP stands for, before `segments`.
    public var skippedSegments: Int = 0
    /// In a delta update: the EXT-X-MAP of the last skipped segment, which the client already has.
    public var skippedMap: String?

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
        var text = renderHeader()
        // A delta update leaves out the MAP that the skipped segments carried (Apple's example does).
        var map: String? = skippedSegments > 0 ? skippedMap : nil
        for segment in segments { text += Self.render(segment, after: &map) }
        if let open = openSegment, !endList {
            if !open.parts.isEmpty {
                text += Self.renderTags(discontinuity: open.discontinuity, map: open.map, programDateTime: open.programDateTime, after: &map)
            }
            for part in open.parts { text += Self.render(part) }
        }
        if let hint = preloadHint, !endList { text += "#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"\(hint)\"\n" }
        if endList { text += "#EXT-X-ENDLIST\n" }
        return text
    }

    /// The lines before the first segment. An EVENT playlist is this followed by
    /// ``render(_:after:)`` of each segment as it comes: a recording appends, never rewrites.
    public func renderHeader() -> String {
        var text = "#EXTM3U\n#EXT-X-VERSION:\(skippedSegments > 0 ? max(version, 9) : version)\n"
        text += "#EXT-X-TARGETDURATION:\(targetDuration)\n"
        if let playlistType { text += "#EXT-X-PLAYLIST-TYPE:\(playlistType.rawValue)\n" }
        if let control = serverControl {
            text += "#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=\(Self.decimal(control.partHoldBack, places: 3, up: true))"
            if control.canSkipUntil > 0 { text += ",CAN-SKIP-UNTIL=\(control.canSkipUntil)" }
            text += "\n#EXT-X-PART-INF:PART-TARGET=\(Self.decimal(control.partTarget, places: 5, up: true))\n"
        }
        text += "#EXT-X-MEDIA-SEQUENCE:\(mediaSequence)\n"
        let usesMaps = segments.contains { $0.map != nil } || openSegment?.map != nil
        if discontinuitySequence > 0 || usesMaps { text += "#EXT-X-DISCONTINUITY-SEQUENCE:\(discontinuitySequence)\n" }
        if skippedSegments > 0 { text += "#EXT-X-SKIP:SKIPPED-SEGMENTS=\(skippedSegments)\n" }
        return text
    }

    /// One segment's lines (its tags, parts, EXTINF and URI); `map` is the EXT-X-MAP in effect before
    /// it, updated when the segment changes it.
    public static func render(_ segment: PlaylistSegment, after map: inout String?) -> String {
        var text = renderTags(discontinuity: segment.discontinuity, map: segment.map, programDateTime: segment.programDateTime, after: &map)
        for part in segment.parts { text += render(part) }
        return text + "#EXTINF:\(formatDuration(segment.duration)),\n\(segment.uri)\n"
    }

    private static func renderTags(discontinuity: Bool, map segmentMap: String?, programDateTime: Int64?, after map: inout String?) -> String {
        var text = discontinuity ? "#EXT-X-DISCONTINUITY\n" : ""
        if let segmentMap, segmentMap != map {
            text += "#EXT-X-MAP:URI=\"\(segmentMap)\"\n"
            map = segmentMap
        }
        if let programDateTime {
            text += "#EXT-X-PROGRAM-DATE-TIME:" + ProgramDateTime.format(millisecondsSinceEpoch: programDateTime) + "\n"
        }
        return text
    }

    private static func render(_ part: PlaylistPart) -> String {
        "#EXT-X-PART:DURATION=\(decimal(part.duration, places: 5, up: false)),URI=\"\(part.uri)\"" + (part.independent ? ",INDEPENDENT=YES\n" : "\n")
    }

    /// The delta update of §6.2.5.1: segments that end more than the skip boundary before the end of
    /// the last segment are replaced by EXT-X-SKIP (MEDIA-SEQUENCE stays). Nil when the playlist
    /// offers no deltas (no CAN-SKIP-UNTIL, or ENDLIST) or there is nothing to skip yet.
    public func delta() -> MediaPlaylist? {
        guard let control = serverControl, control.canSkipUntil > 0, !endList else { return nil }
        let boundary = Int64(control.canSkipUntil) * MediaTime.timescale
        var remaining: Int64 = 0
        var kept = 0
        for segment in segments.reversed() {
            guard remaining + segment.duration <= boundary else { break }
            remaining += segment.duration
            kept += 1
        }
        // Keep every segment that starts within the boundary (mediamtx#6237: skipping too much).
        kept = min(segments.count, kept + 1)
        guard kept < segments.count else { return nil }
        var delta = self
        delta.skippedSegments = segments.count - kept
        delta.skippedMap = delta.skippedSegments > 0 ? segments[delta.skippedSegments - 1].map : nil
        delta.segments.removeFirst(delta.skippedSegments)
        return delta
    }

    /// Ticks as seconds with three decimals (`2.002`), rounded to the nearest millisecond; negative as 0.
    static func formatDuration(_ ticks: Int64) -> String {
        decimal(MediaTime.milliseconds(ticks: max(0, ticks)) * 90, places: 3, up: false)
    }

    /// Ticks as seconds with `places` decimals (1...5), rounded down or up: a part's DURATION never
    /// prints above its PART-TARGET.
    static func decimal(_ ticks: Int64, places: Int, up: Bool) -> String {
        let ticks = max(0, ticks)
        var scale: Int64 = 1
        for _ in 0..<places { scale *= 10 }
        let scaled = up ? (ticks * scale + MediaTime.timescale - 1) / MediaTime.timescale : ticks * scale / MediaTime.timescale
        let fraction = String(scaled % scale)
        return "\(scaled / scale)." + String(repeating: "0", count: places - fraction.count) + fraction
    }

    /// The EXTINF value rounded to the nearest whole second, as §4.3.3.1 compares it with the target.
    static func roundedSeconds(_ ticks: Int64) -> Int {
        Int((max(0, MediaTime.milliseconds(ticks: ticks)) + 500) / 1000)
    }
}

extension MediaPlaylist {
    /// The playlist with EXT-X-PART tags kept only for the segments within `span` ticks of the end
    /// (§6.2.2: parts more than three target durations from the end SHOULD be removed), the open
    /// segment's parts always kept.
    public func listingParts(within span: Int64) -> MediaPlaylist {
        var result = self
        var covered = openSegment?.parts.reduce(Int64(0)) { $0 + $1.duration } ?? 0
        for index in result.segments.indices.reversed() {
            if covered >= span { result.segments[index].parts = [] } else { covered += result.segments[index].duration }
        }
        return result
    }
}
