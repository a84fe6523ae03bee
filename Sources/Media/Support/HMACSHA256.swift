// HMAC-SHA256, RFC 2104 with SHA-256 (test vectors: RFC 4231).
//
//   HMAC(K, m) = H((K' ^ opad) || H((K' ^ ipad) || m))
//   K' = K padded with zeros to 64 bytes (or H(K) when K is longer than 64 bytes)
//   ipad = 0x36 × 64, opad = 0x5c × 64

/// HMAC with SHA-256 (RFC 2104), as used by the RTMP digest handshake.
enum HMACSHA256 {
    /// Computes the 32-byte authentication code of `message` under `key`.
    static func authenticationCode<Key: Collection, Message: Collection>(
        for message: Message, key: Key
    ) -> [UInt8] where Key.Element == UInt8, Message.Element == UInt8 {
        var blockKey = key.count > SHA256.blockLength ? SHA256.hash(key) : Array(key)
        blockKey.append(contentsOf: repeatElement(0, count: SHA256.blockLength - blockKey.count))

        var inner = blockKey.map { $0 ^ 0x36 }
        inner.append(contentsOf: message)
        var outer = blockKey.map { $0 ^ 0x5c }
        outer.append(contentsOf: SHA256.hash(inner))
        return SHA256.hash(outer)
    }
}
