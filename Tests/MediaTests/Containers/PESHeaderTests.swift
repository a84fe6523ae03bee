import NIOCore
import Testing
@testable import Media

@Suite struct PESHeaderTests {
    @Test(arguments: [
        (Int64(90_000), nil as Int64?, nil as Int?, "000001e0 0000 80 80 05 2100 05bf 21"),
        (93_600, 90_000, nil, "000001e0 0000 80 c0 0a 3100 05db 41 1100 05bf 21"),
        (90_000, nil, 27, "000001c0 0023 80 80 05 2100 05bf 21"),  // 3 + 5 + 27 = 35
    ] as [(Int64, Int64?, Int?, String)])
    func header(pts: Int64, dts: Int64?, payloadLength: Int?, hex: String) throws {
        let streamID = payloadLength == nil ? PESHeader.videoStreamID : PESHeader.audioStreamID
        let header = PESHeader(streamID: streamID, pts: pts, dts: dts, payloadLength: payloadLength)
        var buffer = ByteBuffer()
        try header.write(into: &buffer)
        #expect(Array(buffer.readableBytesView) == [UInt8](tsHex: hex))
        #expect(buffer.readableBytes == header.size)
    }

    @Test(arguments: [
        (Int64(0), "2100010001"),
        ((1 << 33) - 1, "2fffffffff"),  // the last value before the wrap
        (1 << 33, "2100010001"),  // wraps to 0
        ((1 << 33) + 5, "210001000b"),
        (-1, "2fffffffff"),  // negative values wrap too
        (3 * (1 << 33) + 90_000, "21 0005 bf21"),
    ] as [(Int64, String)])
    func timestampWrapsModulo2To33(ticks: Int64, hex: String) {
        #expect(PESHeader.timestampBytes(prefix: 0x2, ticks) == [UInt8](tsHex: hex))
        #expect(TransportStreamReader.timestamp(PESHeader.timestampBytes(prefix: 0x2, ticks)) == PESHeader.wrap(ticks))
    }

    @Test func tooLongForPacketLengthThrows() {
        let header = PESHeader(streamID: PESHeader.audioStreamID, pts: 0, dts: nil, payloadLength: 70_000)
        var buffer = ByteBuffer()
        #expect(throws: MPEGTSError.pesPacketTooLarge(length: 70_008, limit: 65_535)) { try header.write(into: &buffer) }
        #expect(buffer.readableBytes == 0)
    }
}
