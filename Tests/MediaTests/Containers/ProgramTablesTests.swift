import NIOCore
import Testing
@testable import Media

@Suite struct ProgramTablesTests {
    @Test func patMatchesFFmpeg() {
        let section = ProgramAssociationTable(programMapPID: 0x1000).section
        #expect(Array(section.readableBytesView) == [UInt8](tsHex: "00b00d0001c100000001f0002ab104b2"))
    }

    @Test(arguments: [
        (true, true, "02b0170001c10000e100f0001be100f0000fe101f0002f44b99b"),  // = ffmpeg's
        (false, true, "02b0120001c10000e101f0000fe101f000ece2b094"),  // audio-only: PCR on audio
        (true, false, "02b0120001c10000e100f0001be100f00015bd4d56"),
    ])
    func pmtListsOnlyPresentTracks(video: Bool, audio: Bool, hex: String) {
        let muxer = TransportStreamMuxer(video: video ? MediaFixtures.record() : nil, audio: audio ? MediaFixtures.aac : nil)
        #expect(Array(muxer.programMapTable.section.readableBytesView) == [UInt8](tsHex: hex))
    }

    @Test func tablesArePacketsLikeFFmpegs() {
        var muxer = TransportStreamMuxer(video: MediaFixtures.record(), audio: MediaFixtures.aac)
        var buffer = ByteBuffer()
        muxer.writeTables(into: &buffer)
        let bytes = Array(buffer.readableBytesView)
        #expect(bytes.count == 2 * 188)
        let pat = [UInt8](tsHex: "47400010 00 00b00d0001c100000001f0002ab104b2")
        let pmt = [UInt8](tsHex: "47500010 00 02b0170001c10000e100f0001be100f0000fe101f0002f44b99b")
        #expect(Array(bytes[0..<pat.count]) == pat)
        #expect(bytes[pat.count..<188].allSatisfy { $0 == 0xFF })
        #expect(Array(bytes[188..<188 + pmt.count]) == pmt)
        #expect(bytes[(188 + pmt.count)...].allSatisfy { $0 == 0xFF })
    }
}
