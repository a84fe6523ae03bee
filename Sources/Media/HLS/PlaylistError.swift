/// Errors of the media playlist parser, naming the 1-based line and the offending text.
public enum PlaylistError: Error, Equatable, Sendable {
    /// The first line is not `#EXTM3U`.
    case missingHeader(firstLine: String)
    /// A required tag is absent.
    case missingTag(String)
    /// A tag's value does not parse.
    case invalidValue(tag: String, value: String, line: Int)
    /// A URI line with no `#EXTINF` before it.
    case uriWithoutDuration(uri: String, line: Int)
    /// An `#EXTINF` with no URI after it.
    case durationWithoutURI(line: Int)
    /// The playlist is longer than the parser accepts.
    case tooLarge(length: Int, limit: Int)
}
