import NIOCore
import Testing
@testable import Media

@Suite struct RTMPServerHandshakeTests {
    static func c1(version: [UInt8], fill: UInt8 = 0x5C) -> [UInt8] {
        [0, 0, 0, 0] + version + (0..<1528).map { UInt8(truncatingIfNeeded: $0) ^ fill }
    }

    /// Builds a C1 with a valid Flash Player digest, computed here from the spec (not with the server's helper).
    static func digestC1(scheme: Int) -> (c1: [UInt8], digest: [UInt8], offset: Int) {
        var c1 = c1(version: [0x80, 0x00, 0x07, 0x02])
        let base = scheme == 0 ? 8 : 772
        let offset = (Int(c1[base]) + Int(c1[base + 1]) + Int(c1[base + 2]) + Int(c1[base + 3])) % 728 + base + 4
        let key = Array("Genuine Adobe Flash Player 001".utf8)
        let digest = HMACSHA256.authenticationCode(for: Array(c1[..<offset]) + Array(c1[(offset + 32)...]), key: key)
        c1.replaceSubrange(offset..<offset + 32, with: digest)
        return (c1, digest, offset)
    }

    @Test func simpleHandshakeEchoesC1() throws {
        var handshake = RTMPServerHandshake(random: [0xAB])
        let c1 = Self.c1(version: [0, 0, 0, 0])
        var input = ByteBuffer(bytes: [3] + c1.prefix(100))
        #expect(try handshake.receive(&input) == nil)  // need more
        input.writeBytes(c1.dropFirst(100))
        let reply = try #require(try handshake.receive(&input))
        let bytes = Array(reply.readableBytesView)
        #expect(bytes.count == 3073)
        #expect(bytes[0] == 3)
        #expect(Array(bytes[1..<9]) == [0, 0, 0, 0, 0, 0, 0, 0])
        #expect(bytes[9..<1537].allSatisfy { $0 == 0xAB })
        #expect(Array(bytes[1537...]) == c1)
        #expect(!handshake.usedDigest)
        #expect(handshake.state == .waitingForC2)
        var c2 = ByteBuffer(bytes: [UInt8](repeating: 0, count: 1536))
        #expect(try handshake.receive(&c2) == nil)
        #expect(handshake.state == .complete)
    }

    @Test(arguments: [0, 1])
    func digestHandshakeSignsS1AndS2(scheme: Int) throws {
        let (c1, clientDigest, _) = Self.digestC1(scheme: scheme)
        var handshake = RTMPServerHandshake(random: [0x11, 0x22, 0x33])
        var input = ByteBuffer(bytes: [3] + c1)
        let reply = Array(try #require(try handshake.receive(&input)).readableBytesView)
        #expect(handshake.usedDigest)
        let s1 = Array(reply[1..<1537]), s2 = Array(reply[1537...])
        #expect(s1[4..<8].contains { $0 != 0 })

        let base = scheme == 0 ? 8 : 772
        let offset = (Int(s1[base]) + Int(s1[base + 1]) + Int(s1[base + 2]) + Int(s1[base + 3])) % 728 + base + 4
        let serverKey = Array("Genuine Adobe Flash Media Server 001".utf8)
        #expect(serverKey.count == 36)
        let s1Digest = HMACSHA256.authenticationCode(for: Array(s1[..<offset]) + Array(s1[(offset + 32)...]), key: serverKey)
        #expect(Array(s1[offset..<offset + 32]) == s1Digest)

        let fullKey = serverKey + Hex.bytes("F0EEC24A8068BEE82E00D0D1029E7E576EEC5D2D29806FAB93B8E636CFEB31AE")
        let s2Key = HMACSHA256.authenticationCode(for: clientDigest, key: fullKey)
        #expect(Array(s2[1504...]) == HMACSHA256.authenticationCode(for: s2[..<1504], key: s2Key))
        #expect(s2 != c1)
    }

    @Test func versionWithoutValidDigestFallsBackToEcho() throws {
        var c1 = Self.digestC1(scheme: 0).c1
        c1[100] ^= 0xFF  // breaks both digests
        var handshake = RTMPServerHandshake(random: [1])
        var input = ByteBuffer(bytes: [3] + c1)
        let reply = Array(try #require(try handshake.receive(&input)).readableBytesView)
        #expect(!handshake.usedDigest)
        #expect(Array(reply[1537...]) == c1)
    }

    @Test(arguments: [0, 6, 0x16, 0xFF] as [UInt8])
    func refusesOtherVersions(version: UInt8) {
        var handshake = RTMPServerHandshake()
        var input = ByteBuffer(bytes: [version])
        #expect(throws: RTMPError.unsupportedHandshakeVersion(version)) { _ = try handshake.receive(&input) }
    }

    @Test func systemRandomFillsS1() throws {
        var handshake = RTMPServerHandshake()
        var input = ByteBuffer(bytes: [3] + Self.c1(version: [0, 0, 0, 0]))
        let reply = Array(try #require(try handshake.receive(&input)).readableBytesView)
        #expect(Set(reply[9..<1537]).count > 100)
    }
}
