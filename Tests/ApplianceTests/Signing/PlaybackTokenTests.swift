import Crypto
import CryptoExtras
import Foundation
import Synchronization
import Testing
@testable import Appliance

/// Tokens made here with swift-crypto (the end-to-end tests make theirs with PyJWT).
@Suite struct PlaybackTokenTests {
    static let key = try! _RSA.Signing.PrivateKey(keySize: .bits2048)
    static let other = try! _RSA.Signing.PrivateKey(keySize: .bits2048)
    static let now: Double = 1_800_000_000

    static func b64(_ bytes: some DataProtocol) -> String {
        Data(bytes).base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    /// A compact JWS of `header` and `claims` (JSON texts), RS256-signed by `key`.
    static func token(header: String = #"{"alg":"RS256","typ":"JWT","kid":"k1"}"#,
                      claims: String = #"{"sub":"pb","aud":"v","exp":1800000600}"#, key: _RSA.Signing.PrivateKey = key) -> String {
        let input = b64(Array(header.utf8)) + "." + b64(Array(claims.utf8))
        let signature = try! key.signature(for: SHA256.hash(data: Array(input.utf8)), padding: .insecurePKCS1v1_5)
        return input + "." + b64(signature.rawRepresentation)
    }

    static func verify(_ text: String) throws(PlaybackToken.Failure) -> PlaybackToken {
        let token = try PlaybackToken.verify(text) { $0 == "k1" ? key.publicKey : nil }
        try token.check(playbackID: "pb", audience: "v", now: now)
        return token
    }

    static func failure(_ text: String) -> PlaybackToken.Failure? {
        do { _ = try verify(text); return nil } catch { return error }
    }

    @Test func aTokenWithItsKeyIDInTheHeaderOrInTheClaimsIsAccepted() throws {
        #expect(try Self.verify(Self.token()).keyID == "k1")
        let claims = try Self.verify(Self.token(header: #"{"alg":"RS256","typ":"JWT"}"#,
                                                claims: #"{"sub":"pb","aud":["x","v"],"exp":1800000600,"kid":"k1"}"#))
        #expect(claims.subject == "pb" && claims.audiences == ["x", "v"] && claims.expires == 1_800_000_600)
    }

    @Test func otherClaimsAreModifiersAsText() throws {
        let claims = try Self.verify(Self.token(claims: #"{"sub":"pb","aud":"v","exp":1800000600,"time":25,"width":640.0,"#
                                                + #""start":1.5,"flip_v":true,"fit_mode":"pad","custom":{"x":1},"list":[1],"nothing":null,"iat":1}"#))
        #expect(claims.modifiers == ["time": "25", "width": "640", "start": "1.5", "flip_v": "true", "fit_mode": "pad"])
    }

    @Test(arguments: [
        (#"{"alg":"none","typ":"JWT","kid":"k1"}"#, #"{"sub":"pb","aud":"v","exp":1800000600}"#, PlaybackToken.Failure.algorithm),
        (#"{"alg":"HS256","kid":"k1"}"#, #"{"sub":"pb","aud":"v","exp":1800000600}"#, .algorithm),
        (#"{"alg":"RS512","kid":"k1"}"#, #"{"sub":"pb","aud":"v","exp":1800000600}"#, .algorithm),
        (#"{"alg":"RS256","kid":"k1","crit":["x"]}"#, #"{"sub":"pb","aud":"v","exp":1800000600}"#, .malformed),
        (#"{"alg":"RS256","alg":"RS256","kid":"k1"}"#, #"{"sub":"pb","aud":"v","exp":1800000600}"#, .malformed),
        (#"{"alg":"RS256","kid":"k1"}"#, #"{"sub":"pb","aud":"v"}"#, .missingExpiry),
        (#"{"alg":"RS256","kid":"k1"}"#, #"{"sub":"pb","aud":"v","exp":"soon"}"#, .malformed),
        (#"{"alg":"RS256","kid":"k1"}"#, #"{"sub":"pb","aud":"v","exp":1799999960}"#, .expired),
        (#"{"alg":"RS256","kid":"k1"}"#, #"{"sub":"pb","aud":"v","exp":1800000600,"nbf":1800000100}"#, .notYetValid),
        (#"{"alg":"RS256","kid":"k1"}"#, #"{"sub":"pb","aud":"t","exp":1800000600}"#, .audience),
        (#"{"alg":"RS256","kid":"k1"}"#, #"{"sub":"pb","exp":1800000600}"#, .audience),
        (#"{"alg":"RS256","kid":"k1"}"#, #"{"sub":"other","aud":"v","exp":1800000600}"#, .subject),
        (#"{"alg":"RS256","kid":"k2"}"#, #"{"sub":"pb","aud":"v","exp":1800000600}"#, .unknownKey),
        (#"{"alg":"RS256"}"#, #"{"sub":"pb","aud":"v","exp":1800000600}"#, .unknownKey),
        (#"{"alg":"RS256","kid":"k1"}"#, #"{"sub":"pb","aud":"v","exp":1800000600,"kid":"k2"}"#, .unknownKey),
    ])
    func refusedClaimsSayWhy(header: String, claims: String, failure: PlaybackToken.Failure) {
        #expect(Self.failure(Self.token(header: header, claims: claims)) == failure)
    }

    @Test func aClockBehindByLessThanTheSkewStillAccepts() throws {
        _ = try Self.verify(Self.token(claims: #"{"sub":"pb","aud":"v","exp":1799999980}"#))
    }

    @Test func tamperedForgedAndGarbledTokensAreRefused() {
        let good = Self.token()
        let parts = good.split(separator: ".").map(String.init)
        let otherClaims = Self.b64(Array(#"{"sub":"pb","aud":"v","exp":1900000000}"#.utf8))
        #expect(Self.failure([parts[0], otherClaims, parts[2]].joined(separator: ".")) == .signature, "a tampered payload")
        #expect(Self.failure(Self.token(key: Self.other)) == .signature, "signed by another key")
        // HS256 with the public key's PEM as the HMAC secret: refused by its algorithm, before any key is used.
        let input = Self.b64(Array(#"{"alg":"HS256","kid":"k1"}"#.utf8)) + "." + parts[1]
        let mac = HMAC<SHA256>.authenticationCode(for: Array(input.utf8), using: SymmetricKey(data: Array(Self.key.publicKey.pemRepresentation.utf8)))
        #expect(Self.failure(input + "." + Self.b64(Array(mac))) == .algorithm)
        let unsigned = Self.b64(Array(#"{"alg":"none","typ":"JWT","kid":"k1"}"#.utf8)) + "." + parts[1] + "."
        #expect(Self.failure(unsigned) == .algorithm, "an unsigned token, its signature empty")
        for garbage in ["", "a.b", "a.b.c.d", parts[0] + "." + parts[1] + ".", "!!." + parts[1] + "." + parts[2],
                        String(repeating: "a", count: PlaybackToken.maximumLength + 1), parts[0] + ".e30." + parts[2]] {
            let failure = Self.failure(garbage)
            #expect(failure == .malformed || failure == .subject, "\(garbage.prefix(40))")
        }
    }
}

@Suite struct PlaybackGrantTests {
    let secret = SymmetricKey(size: .bits256)

    @Test func aGrantOpensOnlyItsPlaybackIDWithItsSecret() {
        let grant = PlaybackGrant(expires: 1_800_000_630, keyID: "k1")
        let text = grant.encoded(playbackID: "pb", secret: secret)
        #expect(PlaybackGrant.verify(text, playbackID: "pb", secret: secret) == grant)
        #expect(PlaybackGrant.verify(text, playbackID: "other", secret: secret) == nil)
        #expect(PlaybackGrant.verify(text, playbackID: "pb", secret: SymmetricKey(size: .bits256)) == nil)
        let parts = text.split(separator: ".")
        #expect(PlaybackGrant.verify("1900000000.\(parts[1]).\(parts[2])", playbackID: "pb", secret: secret) == nil, "a later expiry")
        #expect(PlaybackGrant.verify("\(parts[0]).k2.\(parts[2])", playbackID: "pb", secret: secret) == nil, "another key")
        for garbage in ["", "1.k1", "x.k1.\(parts[2])", "1.k/1.\(parts[2])", "1.k1.AAAA", String(repeating: "1", count: 200)] {
            #expect(PlaybackGrant.verify(garbage, playbackID: "pb", secret: secret) == nil, "\(garbage)")
        }
    }
}

@Suite struct PlaybackSigningTests {
    @Test func aKeysTokensAndGrantsStopWorkingTheMomentItIsDeleted() async throws {
        let path = NSTemporaryDirectory() + "signing-\(UUID().uuidString).sqlite"
        defer { try? FileManager.default.removeItem(atPath: path) }
        let now = UnixClock(1_800_000_000)
        let signing = PlaybackSigning(store: SigningKeyStore(store: LiveStreamStore(path: path)), clock: { now.seconds.withLock { $0 } })
        let (key, pem) = try await signing.create()
        #expect(pem.hasPrefix("-----BEGIN RSA PRIVATE KEY-----"), "PKCS#1, as Mux's SDKs expect")
        #expect(try await signing.key(id: key.id) == key && !key.publicKeyPEM.contains("PRIVATE"))
        let privateKey = try _RSA.Signing.PrivateKey(pemRepresentation: pem)
        let token = PlaybackTokenTests.token(header: #"{"alg":"RS256","kid":"\#(key.id)"}"#, claims: #"{"sub":"pb","aud":"v","exp":1800000600}"#,
                                             key: privateKey)
        let authorization = try await signing.authorize(playbackID: "pb", token: token, grant: nil)
        #expect(authorization.grant == PlaybackGrant(expires: 1_800_000_630, keyID: key.id))
        let text = authorization.path
        #expect(try await signing.authorize(playbackID: "pb", token: nil, grant: text) == authorization)
        #expect(try await signing.authorize(playbackID: "pb", token: token, grant: nil) == authorization, "from the cache")
        #expect(signing.grantIsValid(text, playbackID: "pb") && !signing.grantIsValid(text, playbackID: "other"))
        await #expect(throws: PlaybackSigning.Refusal.forbidden(PlaybackToken.Failure.subject.description)) {
            try await signing.authorize(playbackID: "other", token: token, grant: nil)
        }
        // The cached token is checked against the clock all the same, and so is the grant.
        now.seconds.withLock { $0 = 1_800_000_700 }
        await #expect(throws: PlaybackSigning.Refusal.forbidden(PlaybackToken.Failure.expired.description)) {
            try await signing.authorize(playbackID: "pb", token: token, grant: nil)
        }
        #expect(!signing.grantIsValid(text, playbackID: "pb"))
        now.seconds.withLock { $0 = 1_800_000_000 }
        // An exp of any size neither traps nor makes a grant that cannot be read back.
        for exp in ["1e300", "1800000000000"] {
            let far = PlaybackTokenTests.token(header: #"{"alg":"RS256","kid":"\#(key.id)"}"#, claims: #"{"sub":"pb","aud":"v","exp":\#(exp)}"#,
                                               key: privateKey)
            let granted = try await signing.authorize(playbackID: "pb", token: far, grant: nil)
            #expect(granted.grant.expires == PlaybackGrant.latestExpiry)
            #expect(try await signing.authorize(playbackID: "pb", token: nil, grant: granted.path) == granted)
        }
        #expect(MuxError.loggable("/pb/t/\(text)/index.m3u8") == "/pb/t/-/index.m3u8" && MuxError.loggable("/video/v1/x") == "/video/v1/x")
        #expect(try await signing.delete(id: key.id))
        await #expect(throws: PlaybackSigning.Refusal.forbidden(PlaybackToken.Failure.unknownKey.description)) {
            try await signing.authorize(playbackID: "pb", token: token, grant: nil)
        }
        await #expect(throws: PlaybackSigning.Refusal.forbidden(PlaybackToken.Failure.unknownKey.description)) {
            try await signing.authorize(playbackID: "pb", token: nil, grant: text)
        }
        #expect(!signing.grantIsValid(text, playbackID: "pb"))
        #expect(try await signing.delete(id: key.id) == false)
        #expect(try await signing.keys(limit: 10, page: 1).isEmpty)
    }
}

/// Unix seconds set by the test.
final class UnixClock: Sendable {
    let seconds: Mutex<Double>
    init(_ seconds: Double) { self.seconds = Mutex(seconds) }
}
