import Crypto
import CryptoExtras
import Foundation

/// A Mux playback token (reference/mux-api.md §4.1): a JWT (RFC 7519) in JWS compact serialisation
/// (RFC 7515 §7.1), signed RS256 (RSASSA-PKCS1-v1_5 with SHA-256, RFC 7518 §3.3) by a signing key.
///
/// ```
/// base64url({"alg":"RS256","typ":"JWT"[,"kid":K]}) . base64url({"sub":PLAYBACK_ID,"aud":"v","exp":T[,"kid":K]...}) . base64url(signature)
/// ```
/// `kid` may be in the header (Mux's Elixir SDK) or in the claims (its Node SDK). Only RS256 is
/// accepted: `none`, HMAC (which a verifier holding a public key could be fooled into computing with
/// that key as the secret) and everything else are refused before any key is looked at. Duplicate
/// JSON keys, `crit` headers and tokens over ``maximumLength`` are refused too. Verification is pure:
/// the key lookup and the time are passed in.
struct PlaybackToken: Sendable, Equatable {
    var keyID: String
    var subject: String
    /// `aud` (a string, or the strings of an array: RFC 7519 §4.1.3).
    var audiences: [String]
    /// `exp`, Unix seconds.
    var expires: Double
    /// `nbf`, Unix seconds.
    var notBefore: Double?
    /// The other claims that are a string, a number or a boolean, as text: playback modifiers and
    /// image options (`time`, `width`...; mux-api.md §4.1), which a signed URL carries in its token.
    var modifiers: [String: String] = [:]

    /// Claims that are never a modifier.
    static let registeredClaims: Set<String> = ["sub", "aud", "exp", "nbf", "iat", "kid", "jti", "iss", "custom", "playback_restriction_id"]

    /// Longer tokens are refused unparsed (Mux's are a few hundred bytes; claims for images add little).
    static let maximumLength = 8192
    /// Clock difference tolerated between the application that signs and the appliance, seconds.
    static let clockSkew: Double = 30

    /// Why a token is refused; the reason is for the developer (it names no key material).
    enum Failure: Error, Equatable, CustomStringConvertible {
        case missing, malformed, algorithm, unknownKey, signature, expired, notYetValid, missingExpiry, audience, subject

        var description: String {
            switch self {
            case .missing: "a token is required for this signed playback ID (?token=JWT)"
            case .malformed: "the token is not a well-formed JWT"
            case .algorithm: "the token must be signed with RS256"
            case .unknownKey: "the token's signing key (kid) is unknown or was deleted"
            case .signature: "the token's signature is not valid for its signing key"
            case .expired: "the token has expired (exp)"
            case .notYetValid: "the token is not valid yet (nbf)"
            case .missingExpiry: "the token has no expiry (exp)"
            case .audience: "the token's audience (aud) does not fit this resource"
            case .subject: "the token is for another playback ID (sub)"
            }
        }
    }

    /// The token's claims once its signature checks out with the key `key(kid)` returns.
    static func verify(_ text: String, key: (String) -> _RSA.Signing.PublicKey?) throws(Failure) -> PlaybackToken {
        guard text.utf8.count <= maximumLength else { throw .malformed }
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, let headerBytes = base64URL(parts[0]), let payloadBytes = base64URL(parts[1]),
              case .object(let header)? = try? JSONParser.parse(headerBytes, maximumDepth: 4),
              case .object(let claims)? = try? JSONParser.parse(payloadBytes, maximumDepth: 8) else { throw .malformed }
        // The algorithm first: an unsigned (`none`) token has an empty signature.
        guard case .string("RS256")? = header["alg"] else { throw .algorithm }
        guard let signature = base64URL(parts[2]) else { throw .malformed }
        guard header["crit"] == nil else { throw .malformed }
        if let type = header["typ"] { guard case .string(let value) = type, value.uppercased() == "JWT" else { throw .malformed } }
        let token = try Self(claims: claims, headerKeyID: header["kid"])
        guard let publicKey = key(token.keyID) else { throw .unknownKey }
        let signingInput = text.utf8.prefix(parts[0].utf8.count + 1 + parts[1].utf8.count)
        guard publicKey.isValidSignature(_RSA.Signing.RSASignature(rawRepresentation: signature), for: SHA256.hash(data: Array(signingInput)),
                                         padding: .insecurePKCS1v1_5) else { throw .signature }
        return token
    }

    private init(claims: [String: JSONValue], headerKeyID: JSONValue?) throws(Failure) {
        func string(_ value: JSONValue?) throws(Failure) -> String? {
            guard let value else { return nil }
            guard case .string(let text) = value, !text.isEmpty else { throw .malformed }
            return text
        }
        func number(_ value: JSONValue?) throws(Failure) -> Double? {
            guard let value else { return nil }
            guard case .number(let seconds) = value, seconds.isFinite else { throw .malformed }
            return seconds
        }
        let headerKID = try string(headerKeyID), claimKID = try string(claims["kid"])
        guard let kid = headerKID ?? claimKID, headerKID == nil || claimKID == nil || headerKID == claimKID else { throw .unknownKey }
        guard let subject = try string(claims["sub"]) else { throw .subject }
        switch claims["aud"] {
        case .string(let audience)?: audiences = [audience]
        case .array(let values)?:
            audiences = try values.map { value throws(Failure) in
                guard case .string(let audience) = value else { throw .malformed }
                return audience
            }
        case nil: throw .audience
        default: throw .malformed
        }
        guard let expires = try number(claims["exp"]) else { throw .missingExpiry }
        keyID = kid
        self.subject = subject
        self.expires = expires
        notBefore = try number(claims["nbf"])
        for (name, value) in claims where !Self.registeredClaims.contains(name) {
            switch value {
            case .string(let text): modifiers[name] = text
            case .bool(let flag): modifiers[name] = flag ? "true" : "false"
            case .number(let number) where number.isFinite:
                modifiers[name] = number.rounded() == number && abs(number) < 1e15 ? String(Int64(number)) : String(number)
            default: break
            }
        }
    }

    /// Whether the token may open `playbackID`'s resources of `audience` (`v` video, `t` thumbnail,
    /// `g` animated, `s` storyboard) at `now` (Unix seconds), within ``clockSkew``.
    func check(playbackID: String, audience: String, now: Double) throws(Failure) {
        guard subject == playbackID else { throw .subject }
        guard audiences.contains(audience) else { throw .audience }
        guard now <= expires + Self.clockSkew else { throw .expired }
        if let notBefore, now + Self.clockSkew < notBefore { throw .notYetValid }
    }


    /// Bytes of unpadded base64url (RFC 4648 §5), nil for anything else.
    static func base64URL(_ text: Substring) -> [UInt8]? {
        var standard: [UInt8] = []
        standard.reserveCapacity(text.utf8.count + 3)
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "-"): standard.append(UInt8(ascii: "+"))
            case UInt8(ascii: "_"): standard.append(UInt8(ascii: "/"))
            case _ where ASCII.isAlphanumeric(byte): standard.append(byte)
            default: return nil
            }
        }
        guard !standard.isEmpty, standard.count % 4 != 1 else { return nil }
        standard += repeatElement(UInt8(ascii: "="), count: (4 - standard.count % 4) % 4)
        return Data(base64Encoded: Data(standard)).map(Array.init)
    }

    /// Unpadded base64url of `bytes`.
    static func base64URL(_ bytes: [UInt8]) -> String {
        let encoded = Data(bytes).base64EncodedData().compactMap { byte -> UInt8? in
            switch byte {
            case UInt8(ascii: "+"): UInt8(ascii: "-")
            case UInt8(ascii: "/"): UInt8(ascii: "_")
            case UInt8(ascii: "="): nil
            default: byte
            }
        }
        return String(decoding: encoded, as: UTF8.self)
    }
}
