import Crypto
import CryptoExtras
import Foundation
import Synchronization

/// Signing keys and signed playback (reference/mux-api.md §4): keys are made here (swift-crypto's
/// RSA, on NIO's thread pool), their public halves kept in the store and in memory; a playback
/// request for a signed playback ID is let through on a valid token (``PlaybackToken``) or on the
/// grant one led to (``PlaybackGrant``).
///
/// Verified tokens are cached (bounded), so a player polling with one token costs one RSA
/// verification, not one per request; the claims are still checked every time, and a deleted key is
/// gone from memory before its deletion is answered, so its tokens and grants stop working at once.
final class PlaybackSigning: Sendable {
    private struct Loaded: Sendable {
        var keys: [String: _RSA.Signing.PublicKey]
        var secret: SymmetricKey
    }

    private let store: SigningKeyStore
    private let state = Mutex<Loaded?>(nil)
    /// Tokens whose signature checked out, by their text, with the grant they lead to.
    private let verified = Mutex<[String: (claims: PlaybackToken, authorization: Authorization)]>([:])
    /// Grant path components whose MAC checked out, with the playback ID they are for.
    private let grants = Mutex<[String: (playbackID: String, grant: PlaybackGrant)]>([:])
    private let clock: @Sendable () -> Double

    /// Entries of each cache (tokens, grants); a full cache starts again empty.
    static let maximumCachedTokens = 10_000

    /// Why a request is not let through.
    enum Refusal: Error, Equatable {
        /// No valid token or grant; the reason is for the developer and names no key material.
        case forbidden(String)
        /// The keys could not be read (the database is unavailable).
        case unavailable
    }

    /// `clock`: Unix seconds.
    init(store: SigningKeyStore, clock: @escaping @Sendable () -> Double = { Date().timeIntervalSince1970 }) {
        self.store = store
        self.clock = clock
    }

    /// The keys and the grant secret, read from the store the first time.
    private func loaded() async throws -> Loaded {
        if let loaded = state.withLock({ $0 }) { return loaded }
        let keys = try await store.all()
        let secret = try await store.secret(named: "playback_grant") { SymmetricKey(size: .bits256).withUnsafeBytes { Data($0) } }
        var parsed: [String: _RSA.Signing.PublicKey] = [:]
        for key in keys { parsed[key.id] = try? _RSA.Signing.PublicKey(pemRepresentation: key.publicKeyPEM) }
        let fresh = Loaded(keys: parsed, secret: SymmetricKey(data: secret))
        return state.withLock { state in
            if let state { return state }
            state = fresh
            return fresh
        }
    }

    // MARK: Keys

    /// A new key: its record and the private key (PEM, PKCS#1), which is not kept.
    func create() async throws -> (key: SigningKey, privateKeyPEM: String) {
        _ = try await loaded()
        let privateKey = try await BlockingWork.run { try _RSA.Signing.PrivateKey(keySize: .bits2048) }
        let key = SigningKey(id: Identifier.opaque(), createdAt: Int64(clock()), publicKeyPEM: privateKey.publicKey.pemRepresentation)
        try await store.create(key)
        state.withLock { $0?.keys[key.id] = privateKey.publicKey }
        return (key, privateKey.pemRepresentation)
    }

    /// Whether the key existed; its tokens and grants are refused from now on.
    func delete(id: String) async throws -> Bool {
        _ = try await loaded()
        let deleted = try await store.delete(id: id)
        state.withLock { _ = $0?.keys.removeValue(forKey: id) }
        return deleted
    }

    func key(id: String) async throws -> SigningKey? { try await store.key(id: id) }

    func keys(limit: Int, page: Int) async throws -> [SigningKey] { try await store.keys(limit: limit, page: page) }

    // MARK: Playback

    /// What a request was let through on: the grant, and the grant's path component (`/t/{path}/`);
    /// for a token, its modifiers (image options: ``PlaybackToken/modifiers``).
    struct Authorization: Sendable, Equatable {
        var grant: PlaybackGrant
        var path: String
        var modifiers: [String: String] = [:]
    }

    /// Lets a request for a signed playback ID through on a token (`?token=`) or a grant (the
    /// `/t/{GRANT}/` path component), and returns the grant that carries it on. `audience`: `v` for
    /// playlists, segments and renditions.
    func authorize(playbackID: String, token: String?, grant: String?, audience: String = "v") async throws(Refusal) -> Authorization {
        let loaded: Loaded
        do { loaded = try await self.loaded() } catch { throw .unavailable }
        let now = clock()
        if let grant {
            switch admitted(grant, playbackID: playbackID, secret: loaded.secret, now: now) {
            case .success(let granted): return Authorization(grant: granted, path: grant)
            case .failure(let refusal): throw refusal
            }
        }
        guard let token else { throw .forbidden(PlaybackToken.Failure.missing.description) }
        do throws(PlaybackToken.Failure) {
            let authorization: Authorization, claims: PlaybackToken
            if let cached = verified.withLock({ $0[token] }) {
                (claims, authorization) = cached
            } else {
                claims = try PlaybackToken.verify(token) { loaded.keys[$0] }
                // Clamped: an `exp` of any size (milliseconds, 1e300) must neither trap nor make a grant too long to read back.
                let expires = min(max(claims.expires + PlaybackToken.clockSkew, 0), Double(PlaybackGrant.latestExpiry)).rounded(.down)
                let grant = PlaybackGrant(expires: Int64(expires), keyID: claims.keyID)
                authorization = Authorization(grant: grant, path: grant.encoded(playbackID: claims.subject, secret: loaded.secret))
                verified.withLock { cache in
                    if cache.count >= Self.maximumCachedTokens { cache.removeAll(keepingCapacity: true) }
                    cache[token] = (claims, authorization)
                }
            }
            guard hasKey(claims.keyID) else { throw .unknownKey }
            try claims.check(playbackID: playbackID, audience: audience, now: now)
            var result = authorization
            result.modifiers = claims.modifiers
            return result
        } catch {
            throw .forbidden(error.description)
        }
    }

    /// Whether `grant` lets `playbackID` be played now, without waiting: false when the keys are not
    /// loaded yet (the caller then goes the way that loads them). For the playlist fast path.
    func grantIsValid(_ grant: String, playbackID: String) -> Bool {
        guard let secret = state.withLock({ $0?.secret }),
              case .success = admitted(grant, playbackID: playbackID, secret: secret, now: clock()) else { return false }
        return true
    }

    /// The grant a path component holds, if it lets `playbackID` be played at `now` (MAC, expiry, key).
    private func admitted(_ text: String, playbackID: String, secret: SymmetricKey, now: Double) -> Result<PlaybackGrant, Refusal> {
        guard let granted = checked(text, playbackID: playbackID, secret: secret) else {
            return .failure(.forbidden("the playback grant in this URL is not valid; start again from the multivariant playlist with a token"))
        }
        guard Double(granted.expires) >= now else { return .failure(.forbidden(PlaybackToken.Failure.expired.description)) }
        guard hasKey(granted.keyID) else { return .failure(.forbidden(PlaybackToken.Failure.unknownKey.description)) }
        return .success(granted)
    }

    /// The grant a path component holds for `playbackID` if its MAC is right, from the cache of
    /// grants already checked (a player polling its playlist costs a dictionary lookup, not an HMAC).
    private func checked(_ text: String, playbackID: String, secret: SymmetricKey) -> PlaybackGrant? {
        if let cached = grants.withLock({ $0[text] }) { return cached.playbackID == playbackID ? cached.grant : nil }
        guard let grant = PlaybackGrant.verify(text, playbackID: playbackID, secret: secret) else { return nil }
        grants.withLock { cache in
            if cache.count >= Self.maximumCachedTokens { cache.removeAll(keepingCapacity: true) }
            cache[text] = (playbackID, grant)
        }
        return grant
    }

    private func hasKey(_ id: String) -> Bool { state.withLock { $0?.keys[id] != nil } }
}
