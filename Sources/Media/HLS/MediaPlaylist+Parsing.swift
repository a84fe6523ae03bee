/// Parsing of media playlists (RFC 8216 §4.1 lines, §4.3 tags): for tests and for recovering the
/// playlist state of a stream after a restart. Unknown tags and comments are skipped (§6.3.1).
///
/// ```
/// line := tag ("#EXT...") | comment ("#...") | URI | blank;  CRLF or LF
/// #EXTINF:<decimal seconds>[,<title>]  then the URI on a following line
/// ```
extension MediaPlaylist {
    /// Largest playlist text accepted (a live window is a few KiB; recordings stay far below this).
    public static let maximumParsedLength = 16 << 20

    /// Parses a media playlist; throws ``PlaylistError`` naming the offending line.
    /// EXTINF values are read to the millisecond (rounded), so durations come back as multiples of 90 ticks.
    public init(parsing text: String) throws {
        guard text.utf8.count <= Self.maximumParsedLength else {
            throw PlaylistError.tooLarge(length: text.utf8.count, limit: Self.maximumParsedLength)
        }
        let lines = text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline)
        let first = lines.first.map { $0.trimmingSpaces } ?? ""
        guard first == "#EXTM3U" else { throw PlaylistError.missingHeader(firstLine: String(first.prefix(64))) }
        self.init(version: 1, targetDuration: 0)
        var sawTargetDuration = false
        var pending: (duration: Int64, line: Int)?
        var discontinuity = false
        var programDateTime: Int64?
        var map: String?

        for (offset, rawLine) in lines.enumerated().dropFirst() {
            let lineNumber = offset + 1
            let line = rawLine.trimmingSpaces
            if line.isEmpty { continue }
            guard line.hasPrefix("#") else {
                guard let duration = pending?.duration else {
                    throw PlaylistError.uriWithoutDuration(uri: String(line.prefix(256)), line: lineNumber)
                }
                segments.append(PlaylistSegment(uri: String(line), duration: duration,
                                                 discontinuity: discontinuity, programDateTime: programDateTime, map: map))
                pending = nil
                discontinuity = false
                programDateTime = nil
                continue
            }
            let (tag, value) = Self.split(line)
            func invalid() -> PlaylistError {
                PlaylistError.invalidValue(tag: String(tag.prefix(64)), value: String(value.prefix(64)), line: lineNumber)
            }
            func integer() throws -> Int {
                guard let number = Int(value), number >= 0 else { throw invalid() }
                return number
            }
            switch tag {
            case "#EXT-X-VERSION": version = try integer()
            case "#EXT-X-TARGETDURATION":
                targetDuration = try integer()
                sawTargetDuration = true
            case "#EXT-X-MEDIA-SEQUENCE": mediaSequence = try integer()
            case "#EXT-X-DISCONTINUITY-SEQUENCE": discontinuitySequence = try integer()
            case "#EXT-X-DISCONTINUITY": discontinuity = true
            case "#EXT-X-ENDLIST": endList = true
            case "#EXT-X-PLAYLIST-TYPE":
                guard let type = PlaylistType(rawValue: String(value)) else { throw invalid() }
                playlistType = type
            case "#EXT-X-PROGRAM-DATE-TIME":
                guard let time = ProgramDateTime.parse(value) else { throw invalid() }
                programDateTime = time
            case "#EXT-X-MAP":
                guard value.hasPrefix("URI=\""), let end = value.dropFirst(5).firstIndex(of: "\"") else { throw invalid() }
                map = String(value[value.index(value.startIndex, offsetBy: 5)..<end])
            case "#EXTINF":
                let number = value.prefix { $0 != "," }
                guard let milliseconds = Self.milliseconds(decimal: number) else { throw invalid() }
                pending = (milliseconds * 90, lineNumber)
            default: continue
            }
        }
        if let pending { throw PlaylistError.durationWithoutURI(line: pending.line) }
        guard sawTargetDuration else { throw PlaylistError.missingTag("#EXT-X-TARGETDURATION") }
    }

    /// Splits `#TAG:value` at the first colon.
    private static func split(_ line: Substring) -> (tag: Substring, value: Substring) {
        guard let colon = line.firstIndex(of: ":") else { return (line, "") }
        return (line[..<colon], line[line.index(after: colon)...])
    }

    /// A non-negative decimal number of seconds (`2`, `2.002`, `2.0025`) in milliseconds, rounded
    /// half up; nil for anything else or beyond a day.
    static func milliseconds(decimal: Substring) -> Int64? {
        let parts = decimal.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false)
        guard let whole = parts.first, !whole.isEmpty, whole.count <= 5, whole.allSatisfy(\.isASCIIDigit),
            let seconds = Int64(whole), seconds <= 86_400
        else { return nil }
        var milliseconds = seconds * 1000
        if parts.count == 2 {
            let fraction = parts[1]
            guard !fraction.isEmpty, fraction.allSatisfy(\.isASCIIDigit) else { return nil }
            let digits = fraction.compactMap { Int64(String($0)) } + [0, 0, 0, 0]
            milliseconds += digits[0] * 100 + digits[1] * 10 + digits[2] + (digits[3] >= 5 ? 1 : 0)
        }
        return milliseconds
    }
}

extension Character {
    /// `0`...`9` only (not other Unicode digits).
    fileprivate var isASCIIDigit: Bool { ("0"..."9").contains(self) }
}

extension Substring {
    /// Without leading and trailing spaces and tabs.
    fileprivate var trimmingSpaces: Substring {
        var result = self
        while let first = result.first, first == " " || first == "\t" { result.removeFirst() }
        while let last = result.last, last == " " || last == "\t" { result.removeLast() }
        return result
    }
}
