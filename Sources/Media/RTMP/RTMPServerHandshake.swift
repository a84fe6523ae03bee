import NIOCore

// RTMP 1.0 §5.2 Handshake, server side (plus the Flash-era digest variant, RTMPHandshakeDigest).
//
//   client -> C0 (1: version 3) C1 (1536: time(4) zero/version(4) random(1528))
//   server -> S0 (1: 3) S1 (1536) S2 (1536: echo of C1, or random + digest)
//   client -> C2 (1536, echo of S1; not validated: encoders differ)

/// The server side of the handshake: C0+C1 in, S0+S1+S2 out, then C2.
///
/// Uses the digest handshake when C1 carries a non-zero version and a valid Flash Player digest
/// (scheme 0 or 1); otherwise the simple one, whose S2 echoes C1.
public struct RTMPServerHandshake: Sendable {
    /// Where the handshake stands.
    public enum State: Sendable, Equatable {
        /// Waiting for C0 and C1 (1537 bytes).
        case waitingForC0C1
        /// S0+S1+S2 were produced; waiting for C2 (1536 bytes).
        case waitingForC2
        /// Done: what follows is chunks.
        case complete
    }

    /// Where the handshake stands.
    public private(set) var state = State.waitingForC0C1
    /// Whether the client used the digest handshake (known once C1 arrived).
    public private(set) var usedDigest = false
    private var random: HandshakeRandom

    /// Version written into a digest-handshake S1 (FMS 4.5.0.1 style; any non-zero value works).
    static let serverVersion: [UInt8] = [0x04, 0x05, 0x00, 0x01]

    /// Creates a handshake; `random` bytes (cycled) replace the system generator, for golden tests.
    public init(random: [UInt8]? = nil) {
        self.random = HandshakeRandom(fixed: random)
    }

    /// Consumes C0+C1 or C2 from `buffer` when complete; returns S0+S1+S2 once C0+C1 arrived.
    /// Leaves incomplete input unread. Throws for a C0 version other than 3.
    public mutating func receive(_ buffer: inout ByteBuffer) throws -> ByteBuffer? {
        switch state {
        case .waitingForC0C1:
            guard let version = buffer.getInteger(at: buffer.readerIndex, as: UInt8.self) else { return nil }
            guard version == 3 else { throw RTMPError.unsupportedHandshakeVersion(version) }
            guard buffer.readableBytes >= 1 + RTMPHandshakeDigest.packetLength else { return nil }
            buffer.moveReaderIndex(forwardBy: 1)
            let c1 = buffer.readBytes(length: RTMPHandshakeDigest.packetLength) ?? []
            state = .waitingForC2
            return reply(to: c1)
        case .waitingForC2:
            guard buffer.readableBytes >= RTMPHandshakeDigest.packetLength else { return nil }
            buffer.moveReaderIndex(forwardBy: RTMPHandshakeDigest.packetLength)
            state = .complete
            return nil
        case .complete:
            return nil
        }
    }

    private mutating func reply(to c1: [UInt8]) -> ByteBuffer {
        var s1 = [UInt8](repeating: 0, count: 8) + random.bytes(RTMPHandshakeDigest.packetLength - 8)
        let s2: [UInt8]
        let hasVersion = c1[4..<8].contains { $0 != 0 }
        if hasVersion, let (scheme, clientDigest) = RTMPHandshakeDigest.clientDigest(in: c1) {
            usedDigest = true
            s1.replaceSubrange(4..<8, with: Self.serverVersion)
            RTMPHandshakeDigest.sign(&s1, scheme: scheme, key: RTMPHandshakeDigest.serverKey)
            let response = random.bytes(RTMPHandshakeDigest.packetLength - RTMPHandshakeDigest.digestLength)
            s2 = response + RTMPHandshakeDigest.responseDigest(
                random: response[...], peerDigest: clientDigest, fullKey: RTMPHandshakeDigest.fullServerKey)
        } else {
            s2 = c1
        }
        var out = ByteBuffer()
        out.reserveCapacity(1 + 2 * RTMPHandshakeDigest.packetLength)
        out.writeInteger(UInt8(3))
        out.writeBytes(s1)
        out.writeBytes(s2)
        return out
    }
}

/// Random bytes for S1/S2: fixed bytes cycled (golden tests) or the system generator.
struct HandshakeRandom: Sendable {
    private let fixed: [UInt8]?
    private var index = 0

    init(fixed: [UInt8]?) {
        self.fixed = fixed.flatMap { $0.isEmpty ? nil : $0 }
    }

    mutating func bytes(_ count: Int) -> [UInt8] {
        if let fixed {
            var out: [UInt8] = []
            out.reserveCapacity(count)
            for _ in 0..<count {
                out.append(fixed[index % fixed.count])
                index += 1
            }
            return out
        }
        var generator = SystemRandomNumberGenerator()
        return (0..<count).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
    }
}
