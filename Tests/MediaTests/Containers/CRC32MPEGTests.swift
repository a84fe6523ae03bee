import NIOCore
import Testing
@testable import Media

@Suite struct CRC32MPEGTests {
    @Test(arguments: [
        // The CRC catalogue check value.
        (Array("123456789".utf8), 0x0376_E6E7 as UInt32),
        // ffmpeg's PAT (program 1 -> PMT 0x1000), CRC 2A B1 04 B2 as in its output.
        ([UInt8](tsHex: "00b00d0001c100000001f000"), 0x2AB1_04B2),
        // ffmpeg's PMT for H.264 @ 0x100 + AAC @ 0x101, CRC 2F 44 B9 9B as in its output.
        ([UInt8](tsHex: "02b0170001c10000e100f0001be100f0000fe101f000"), 0x2F44_B99B),
        ([], 0xFFFF_FFFF),
    ] as [([UInt8], UInt32)])
    func checksum(bytes: [UInt8], expected: UInt32) {
        #expect(CRC32MPEG.checksum(bytes) == expected)
        #expect(CRC32MPEG.checksum(ByteBuffer(bytes: bytes)) == expected)
    }

    @Test func sectionIncludingItsCRCChecksToZero() {
        let section = ProgramAssociationTable(programMapPID: 0x1000).section
        #expect(CRC32MPEG.checksum(section) == 0)
    }
}
