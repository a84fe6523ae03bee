import Crypto
import Foundation

/// What a verified playback token leads to: the media playlists, parts and segments of a signed
/// playback ID are reached under `/{PLAYBACK_ID}/t/{GRANT}/...`, a path the multivariant playlist
/// names. Every player resolves relative URIs against that path, so segments inherit the grant
/// without a query string (hls.js and ffmpeg drop a playlist's query when they resolve a segment's
/// URI; RFC 3986 §5.2 says they should).
///
/// ```
/// GRANT = EXP "." KID "." base64url(HMAC-SHA256(secret, "v1|" PLAYBACK_ID "|" KID "|" EXP))
/// ```
/// A grant lives as long as the token it came from (`exp`, whole seconds) and names its signing key,
/// so deleting the key ends it at once. The secret is the appliance's own (made on first use and kept
/// in the database); the MAC is compared in constant time.
struct PlaybackGrant: Sendable, Equatable {
    var expires: Int64
    var keyID: String

    /// The latest expiry a grant carries (year 2286): a token's later `exp` is cut to it.
    static let latestExpiry: Int64 = 9_999_999_999

    /// Longer path components are not grants.
    static let maximumLength = 160

    /// The grant's path component for `playbackID`.
    func encoded(playbackID: String, secret: SymmetricKey) -> String {
        "\(expires).\(keyID)." + PlaybackToken.base64URL(Array(Self.mac(playbackID: playbackID, keyID: keyID, expires: expires, secret: secret)))
    }

    /// The grant a path component holds for `playbackID`, if its MAC is right; expiry and key are the caller's to check.
    static func verify(_ text: String, playbackID: String, secret: SymmetricKey) -> PlaybackGrant? {
        guard text.utf8.count <= maximumLength else { return nil }
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, parts[0].utf8.count <= 10, parts[0].utf8.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }),
              let expires = Int64(parts[0]),
              !parts[1].isEmpty, parts[1].utf8.allSatisfy(ASCII.isAlphanumeric),
              let code = PlaybackToken.base64URL(parts[2]), code.count == SHA256.byteCount else { return nil }
        let keyID = String(parts[1])
        let message = Self.message(playbackID: playbackID, keyID: keyID, expires: expires)
        guard HMAC<SHA256>.isValidAuthenticationCode(code, authenticating: message, using: secret) else { return nil }
        return PlaybackGrant(expires: expires, keyID: keyID)
    }

    private static func message(playbackID: String, keyID: String, expires: Int64) -> [UInt8] {
        Array("v1|\(playbackID)|\(keyID)|\(expires)".utf8)
    }

    private static func mac(playbackID: String, keyID: String, expires: Int64, secret: SymmetricKey) -> HMAC<SHA256>.MAC {
        HMAC<SHA256>.authenticationCode(for: message(playbackID: playbackID, keyID: keyID, expires: expires), using: secret)
    }
}
