/// One media segment line group of a media playlist (RFC 8216 §4.3.2).
///
/// ```
/// [#EXT-X-DISCONTINUITY]
/// [#EXT-X-PROGRAM-DATE-TIME:2026-11-29T08:20:06.123Z]
/// #EXTINF:2.002,
/// 1764404406123-42.ts
/// ```
public struct PlaylistSegment: Sendable, Equatable {
    /// The segment's URI, relative to the playlist.
    public var uri: String
    /// Duration in 90 kHz ticks (rendered in milliseconds, so parsing gives a multiple of 90).
    public var duration: Int64
    /// Whether an EXT-X-DISCONTINUITY tag precedes the segment.
    public var discontinuity: Bool
    /// Wall-clock time of the first sample, milliseconds since the Unix epoch (EXT-X-PROGRAM-DATE-TIME).
    public var programDateTime: Int64?
    /// The EXT-X-MAP URI in effect for this segment (CMAF); rendered where it changes.
    public var map: String?
    /// Its partial segments (EXT-X-PART), listed for the newest segments only.
    public var parts: [PlaylistPart]

    /// Creates a segment entry.
    public init(uri: String, duration: Int64, discontinuity: Bool = false, programDateTime: Int64? = nil,
                map: String? = nil, parts: [PlaylistPart] = []) {
        self.uri = uri
        self.duration = duration
        self.discontinuity = discontinuity
        self.programDateTime = programDateTime
        self.map = map
        self.parts = parts
    }
}

/// One EXT-X-PART line (RFC 8216bis §4.4.4.9): `DURATION=<s>,URI="<u>"[,INDEPENDENT=YES]`.
public struct PlaylistPart: Sendable, Equatable {
    public var uri: String
    /// Duration in 90 kHz ticks.
    public var duration: Int64
    public var independent: Bool

    public init(uri: String, duration: Int64, independent: Bool) {
        self.uri = uri
        self.duration = duration
        self.independent = independent
    }
}
