import NIOCore
import Testing
@testable import Media

@Suite struct RTMPChunkEncoderTests {
    @Test(arguments: [
        (3 as UInt32, 128, 0 as UInt32, "010203", "03 000000 000003 14 00000000 010203"),
        (3, 2, 0, "010203", "03 000000 000003 14 00000000 0102 c3 03"),
        (3, 2, 0x0100_0000, "010203", "03 ffffff 000003 14 00000000 01000000 0102 c3 01000000 03"),
        (64, 128, 5, "aa", "00 00 000005 000001 14 00000000 aa"),
        (319, 128, 5, "aa", "00 ff 000005 000001 14 00000000 aa"),
        (320, 1, 5, "aabb", "01 0001 000005 000002 14 00000000 aa c1 0001 bb"),
        (65599, 128, 5, "aa", "01 ffff 000005 000001 14 00000000 aa"),
        (2, 128, 0, "", "02 000000 000000 14 00000000"),
    ])
    func encodesGolden(chunkStreamID: UInt32, chunkSize: Int, timestamp: UInt32, payload: String, hex: String) throws {
        let message = RTMPMessage(type: .amf0Command, timestamp: timestamp, payload: ByteBuffer(bytes: Hex.bytes(payload)))
        let encoded = RTMPChunkEncoder(chunkSize: chunkSize).encode(message, chunkStreamID: chunkStreamID)
        #expect(Hex.string(encoded.readableBytesView) == Hex.string(Hex.bytes(hex)))
        // The decoder reads it back (after learning the chunk size).
        var input = RTMPChunkEncoder().encode(RTMPControlMessage.setChunkSize(chunkSize), chunkStreamID: 2)
        input.writeImmutableBuffer(encoded)
        #expect(try decodeChunks(Array(input.readableBytesView)).last == DecodedMessage(message))
    }

    @Test func setChunkSizeGolden() {
        let encoded = RTMPChunkEncoder().encode(RTMPControlMessage.setChunkSize(4096), chunkStreamID: 2)
        #expect(Array(encoded.readableBytesView) == Hex.bytes("02 000000 000004 01 00000000 00001000"))
    }
}
