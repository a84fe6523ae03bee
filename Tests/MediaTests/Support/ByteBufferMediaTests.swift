import NIOCore
import Testing
@testable import Media

@Suite struct ByteBufferMediaTests {
    @Test(arguments: [
        ([0x00, 0x00, 0x00] as [UInt8], 0 as UInt32, 0 as Int32),
        ([0x12, 0x34, 0x56], 0x123456, 0x123456),
        ([0xFF, 0xFF, 0xFF], 0xFFFFFF, -1),
        ([0x80, 0x00, 0x00], 0x800000, -8_388_608),
    ])
    func uint24AndInt24(bytes: [UInt8], unsigned: UInt32, signed: Int32) {
        var buffer = ByteBuffer(bytes: bytes)
        #expect(buffer.getUInt24(at: 0) == unsigned)
        #expect(buffer.readInt24() == signed)
        var written = ByteBuffer()
        written.writeUInt24(unsigned)
        #expect(Array(written.readableBytesView) == bytes)
    }

    @Test func truncatedUInt24IsNil() {
        var buffer = ByteBuffer(bytes: [0x01, 0x02])
        #expect(buffer.readUInt24() == nil)
        #expect(buffer.readableBytes == 2)
    }
}
