// The Flash-era "digest" handshake (not in RTMP 1.0; documented by librtmp, nginx-rtmp, SRS).
//
//   C1/S1 (1536): time(4) | version(4, non-zero) | 1528 bytes holding a 32-byte digest somewhere
//   scheme 0: offset = (C1[8] + C1[9] + C1[10] + C1[11]) % 728 + 12
//   scheme 1: offset = (C1[772] + C1[773] + C1[774] + C1[775]) % 728 + 776
//   digest = HMAC-SHA256(key, C1 without the 32 digest bytes)
//   S2 (1536): random(1504) | HMAC-SHA256(HMAC-SHA256(full server key, C1 digest), random(1504))

/// Digest computation and lookup for the Flash-era RTMP handshake.
public enum RTMPHandshakeDigest {
    /// Length of a handshake packet (C1, S1, C2, S2).
    public static let packetLength = 1536
    /// Length of a digest (HMAC-SHA256).
    public static let digestLength = 32

    /// The 32 bytes that follow the text in both Adobe keys.
    private static let keyTail: [UInt8] = [
        0xF0, 0xEE, 0xC2, 0x4A, 0x80, 0x68, 0xBE, 0xE8, 0x2E, 0x00, 0xD0, 0xD1, 0x02, 0x9E, 0x7E, 0x57,
        0x6E, 0xEC, 0x5D, 0x2D, 0x29, 0x80, 0x6F, 0xAB, 0x93, 0xB8, 0xE6, 0x36, 0xCF, 0xEB, 0x31, 0xAE,
    ]

    /// "Genuine Adobe Flash Player 001" (30 bytes): the key of the client's C1 digest.
    public static let playerKey: [UInt8] = Array("Genuine Adobe Flash Player 001".utf8)
    /// "Genuine Adobe Flash Media Server 001" (36 bytes): the key of the server's S1 digest.
    public static let serverKey: [UInt8] = Array("Genuine Adobe Flash Media Server 001".utf8)
    /// The full 68-byte server key (text + 32 constant bytes): derives the S2 digest key.
    public static let fullServerKey: [UInt8] = serverKey + keyTail
    /// The full 62-byte player key (text + 32 constant bytes): derives a C2 digest key (for tests/clients).
    public static let fullPlayerKey: [UInt8] = playerKey + keyTail

    /// Where the digest of `packet` sits under `scheme` (0 or 1); `packet` is 1536 bytes.
    public static func digestOffset(in packet: [UInt8], scheme: Int) -> Int {
        let base = scheme == 0 ? 8 : 772
        let sum = packet[base..<base + 4].reduce(0) { $0 + Int($1) }
        return sum % 728 + base + 4
    }

    /// The HMAC of `packet` without the 32 bytes at `offset`.
    public static func digest(of packet: [UInt8], excludingDigestAt offset: Int, key: [UInt8]) -> [UInt8] {
        var message = Array(packet[0..<offset])
        message.append(contentsOf: packet[(offset + digestLength)...])
        return HMACSHA256.authenticationCode(for: message, key: key)
    }

    /// Finds a valid client digest in C1: scheme 0 first, then scheme 1.
    /// Returns nil when neither matches (a simple-handshake client).
    public static func clientDigest(in c1: [UInt8]) -> (scheme: Int, digest: [UInt8])? {
        guard c1.count == packetLength else { return nil }
        for scheme in 0...1 {
            let offset = digestOffset(in: c1, scheme: scheme)
            let expected = digest(of: c1, excludingDigestAt: offset, key: playerKey)
            if Array(c1[offset..<offset + digestLength]) == expected {
                return (scheme, expected)
            }
        }
        return nil
    }

    /// Writes the digest of `packet` under `key` at its `scheme` offset.
    public static func sign(_ packet: inout [UInt8], scheme: Int, key: [UInt8]) {
        let offset = digestOffset(in: packet, scheme: scheme)
        let code = digest(of: packet, excludingDigestAt: offset, key: key)
        packet.replaceSubrange(offset..<offset + digestLength, with: code)
    }

    /// The last 32 bytes of S2 (or C2 with the player keys): HMAC(HMAC(fullKey, peerDigest), random).
    public static func responseDigest(random: ArraySlice<UInt8>, peerDigest: [UInt8], fullKey: [UInt8]) -> [UInt8] {
        let key = HMACSHA256.authenticationCode(for: peerDigest, key: fullKey)
        return HMACSHA256.authenticationCode(for: random, key: key)
    }
}
