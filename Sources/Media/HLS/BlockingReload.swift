/// Blocking playlist reload, RFC 8216bis §6.2.5.2: whether a request with `_HLS_msn=M[&_HLS_part=N]`
/// can be answered now, must be held, or is refused (400).
///
/// ```
/// L = MSN of the last complete segment, O = parts of the open segment L+1, P(L) = parts of L
/// ENDLIST                                  answer now (directives are ignored)
/// M > L + 2                                400
/// no N:    M <= L                          answer now, else hold
/// with N:  M < L, or M == L and N < P(L)   answer now
///          M == L and N >= P(L)            = (L+1, 0): answer once O >= 1
///          M == L+1                        answer once O > N;  400 when N >= O + advance part limit
///          M == L+2                        hold;               400 when N >= advance part limit
/// ```
/// The advance part limit is 3 / PART-TARGET parts when the part target is under a second, else 3.
public struct BlockingReload: Sendable, Equatable {
    public enum Decision: Sendable, Equatable {
        case answer
        case hold
        case badRequest
    }

    /// `_HLS_msn`.
    public var mediaSequence: Int
    /// `_HLS_part`, when given.
    public var part: Int?

    public init(mediaSequence: Int, part: Int? = nil) {
        self.mediaSequence = mediaSequence
        self.part = part
    }

    /// What to do with the request against `playlist` (its newest segment's parts and the open
    /// segment's parts must be listed, as the live playlist lists them).
    public func decision(in playlist: MediaPlaylist) -> Decision {
        if playlist.endList { return .answer }
        let last = playlist.mediaSequence + playlist.segments.count - 1
        let open = playlist.openSegment?.parts.count ?? 0
        let limit = Self.advancePartLimit(partTarget: playlist.serverControl?.partTarget)
        let m = mediaSequence
        if m > last + 2 { return .badRequest }
        guard let n = part else { return m <= last ? .answer : .hold }
        if m < last { return .answer }
        if m == last {
            let parts = playlist.segments.last?.parts.count ?? 0
            return n < parts || open >= 1 ? .answer : .hold
        }
        if m == last + 1 {
            if n >= open + limit { return .badRequest }
            return n < open ? .answer : .hold
        }
        return n >= limit ? .badRequest : .hold
    }

    /// How many parts ahead of the newest a request may ask for.
    static func advancePartLimit(partTarget: Int64?) -> Int {
        guard let target = partTarget, target > 0, target < MediaTime.timescale else { return 3 }
        return Int((3 * MediaTime.timescale + target - 1) / target)
    }

    /// Parses the directives of a query (`_HLS_msn`, `_HLS_part`: 1–20 decimal digits, §6.2.5);
    /// nil with no `_HLS_msn` and no `_HLS_part`; throws for `_HLS_part` alone or a bad number.
    public static func parse(msn: String?, part: String?) throws(BlockingReloadError) -> BlockingReload? {
        guard msn != nil || part != nil else { return nil }
        guard let msn else { throw .partWithoutMediaSequence }
        guard let m = Self.number(msn) else { throw .invalidNumber("_HLS_msn") }
        guard let part else { return BlockingReload(mediaSequence: m) }
        guard let n = Self.number(part) else { throw .invalidNumber("_HLS_part") }
        return BlockingReload(mediaSequence: m, part: n)
    }

    private static func number(_ text: String) -> Int? {
        guard (1...20).contains(text.utf8.count), text.utf8.allSatisfy({ (48...57).contains($0) }) else { return nil }
        return Int(text) ?? Int.max
    }
}

/// Why a blocking request's directives were refused (answered 400).
public enum BlockingReloadError: Error, Equatable, Sendable, CustomStringConvertible {
    case partWithoutMediaSequence
    case invalidNumber(String)

    public var description: String {
        switch self {
        case .partWithoutMediaSequence: "_HLS_part needs _HLS_msn"
        case .invalidNumber(let name): "\(name) must be a decimal integer"
        }
    }
}
