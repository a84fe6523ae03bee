import NIOCore
import Testing
@testable import Media

@Suite struct FLVDemuxerTests {
    let videoHeader = ByteBuffer(bytes: [0x17, 0x00, 0, 0, 0] + goldenAVCRecord)
    let audioHeader = ByteBuffer(bytes: [0xAF, 0x00] + goldenASC)
    func frame(key: Bool, cts: [UInt8] = [0, 0, 0]) -> ByteBuffer {
        ByteBuffer(bytes: [key ? 0x17 : 0x27, 0x01] + cts + [0, 0, 0, 2, key ? 0x65 : 0x41, 0x88])
    }
    let aac = ByteBuffer(bytes: [0xAF, 0x01, 0x21, 0x10])

    func describe(_ events: [FLVDemuxerEvent]) -> [String] {
        events.map {
            switch $0 {
            case .tracks(let v, let a): "tracks \(v?.codecString ?? "-") \(a?.codecString ?? "-")"
            case .sample(let s): "\(s.kind.rawValue) \(s.dts) \(s.pts)\(s.isKeyframe ? " key" : "")"
            }
        }
    }

    @Test func metadataMakesTheDemuxerWaitForEveryAnnouncedTrack() throws {
        var demuxer = FLVDemuxer()
        demuxer.metadata([.ecmaArray([AMFProperty(key: "videocodecid", value: .number(7)), AMFProperty(key: "audiocodecid", value: .number(10))])])
        #expect(try demuxer.video(timestamp: 0, body: videoHeader).isEmpty)
        #expect(try demuxer.video(timestamp: 0, body: frame(key: true)).isEmpty, "held until the audio header")
        let events = try demuxer.audio(timestamp: 0, body: audioHeader)
        #expect(describe(events) == ["tracks avc1.64001f mp4a.40.2", "video 0 0 key"])
        #expect(describe(try demuxer.audio(timestamp: 21, body: aac)) == ["audio 1890 1890 key"])
    }

    @Test func withoutMetadataTheFirstCodedFrameAnnouncesWhatIsKnown() throws {
        var demuxer = FLVDemuxer()
        #expect(try demuxer.audio(timestamp: 0, body: audioHeader).isEmpty)
        #expect(describe(try demuxer.audio(timestamp: 0, body: aac)) == ["tracks - mp4a.40.2", "audio 0 0 key"])
    }

    @Test func negativeCompositionTimeGivesPTSBeforeDTS() throws {
        var demuxer = FLVDemuxer()
        _ = try demuxer.video(timestamp: 0, body: videoHeader)
        let events = try demuxer.video(timestamp: 100, body: frame(key: false, cts: [0xFF, 0xFF, 0xC4]))
        #expect(describe(events).last == "video 9000 3600")
    }

    @Test func announcedTrackThatNeverComesIsGivenUpAfterTheLimit() throws {
        var demuxer = FLVDemuxer(maximumPendingDuration: 90_000)
        demuxer.metadata([.object([AMFProperty(key: "videocodecid", value: .number(7)), AMFProperty(key: "audiocodecid", value: .number(10))])])
        _ = try demuxer.video(timestamp: 0, body: videoHeader)
        #expect(try demuxer.video(timestamp: 0, body: frame(key: true)).isEmpty)
        #expect(try demuxer.video(timestamp: 500, body: frame(key: false)).isEmpty)
        let events = describe(try demuxer.video(timestamp: 1000, body: frame(key: false)))
        #expect(events == ["tracks avc1.64001f -", "video 0 0 key", "video 45000 45000", "video 90000 90000"])
    }

    @Test func configChangeAfterStartIsAnnounced() throws {
        var demuxer = FLVDemuxer()
        _ = try demuxer.video(timestamp: 0, body: videoHeader)
        _ = try demuxer.video(timestamp: 0, body: frame(key: true))
        #expect(try demuxer.video(timestamp: 33, body: videoHeader).isEmpty, "the same header again is not a change")
        var changed = goldenAVCRecord
        changed[3] = 0x28
        #expect(describe(try demuxer.video(timestamp: 66, body: ByteBuffer(bytes: [0x17, 0x00, 0, 0, 0] + changed))) == ["tracks avc1.640028 -"])
    }

    @Test func framesBeforeAnySequenceHeaderAreDropped() throws {
        var demuxer = FLVDemuxer()
        #expect(try demuxer.video(timestamp: 0, body: frame(key: true)).isEmpty)
        #expect(try demuxer.audio(timestamp: 0, body: aac).isEmpty)
    }

    @Test func pendingSamplesAreBounded() throws {
        var demuxer = FLVDemuxer(maximumPendingSamples: 4)
        demuxer.metadata([.object([AMFProperty(key: "videocodecid", value: .number(7)), AMFProperty(key: "audiocodecid", value: .number(10))])])
        _ = try demuxer.video(timestamp: 0, body: videoHeader)
        for i in 0..<3 { #expect(try demuxer.video(timestamp: Int64(i), body: frame(key: i == 0)).isEmpty) }
        #expect(try demuxer.video(timestamp: 3, body: frame(key: false)).count == 5)
    }
}
