import NIOCore
import Testing
@testable import Media

@Suite struct RelayFeedTests {
    static let video = MediaTrack.h264(try! AVCDecoderConfigurationRecord(parsing: ByteBuffer(bytes: goldenAVCRecord)))
    static let audio = MediaTrack.aac(try! AudioSpecificConfig(parsing: ByteBuffer(bytes: goldenASC)))

    static func v(_ ms: Int64, key: Bool = false, bytes: Int = 10) -> MediaSample {
        MediaSample(kind: .video, dts: ms * 90, pts: ms * 90 + 2700, isKeyframe: key, payload: ByteBuffer(repeating: 1, count: bytes))
    }
    static func a(_ ms: Int64) -> MediaSample {
        MediaSample(kind: .audio, dts: ms * 90, pts: ms * 90, isKeyframe: true, payload: ByteBuffer(repeating: 2, count: 4))
    }

    /// What the feed queued: "meta@t", "vh@t" / "ah@t" (sequence headers), "V@t" / "v@t" (key or not), "a@t".
    static func drain(_ feed: inout RelayFeed) -> [String] {
        var out: [String] = []
        while let message = feed.next() {
            let first = message.payload.getInteger(at: message.payload.readerIndex, as: UInt8.self) ?? 0
            let second = message.payload.getInteger(at: message.payload.readerIndex + 1, as: UInt8.self) ?? 0
            let name = switch message.type {
            case .amf0Data: "meta"
            case .video: second == 0 ? "vh" : (first == 0x17 ? "V" : "v")
            default: second == 0 ? "ah" : "a"
            }
            out.append("\(name)@\(message.timestamp)")
        }
        return out
    }

    @Test func startsAtAKeyframeWithMetadataAndHeaders() {
        var feed = RelayFeed()
        feed.tracks(video: Self.video, audio: Self.audio)
        feed.connected()
        for sample in [Self.v(0, bytes: 5), Self.a(10), Self.v(33, key: true), Self.a(40), Self.v(66)] { #expect(feed.sample(sample) == nil) }
        #expect(Self.drain(&feed) == ["meta@33", "vh@33", "ah@33", "V@33", "a@40", "v@66"])
        #expect(feed.queuedBytes == 0)
    }

    @Test func aLateConnectStartsAtTheKeptGOP() {
        var feed = RelayFeed()
        feed.tracks(video: Self.video, audio: Self.audio)
        for sample in [Self.v(0, key: true), Self.a(10), Self.v(33), Self.v(2000, key: true), Self.a(2010), Self.v(2033)] {
            _ = feed.sample(sample)
        }
        #expect(feed.queuedMessages == 0, "nothing is queued while not connected")
        feed.connected()
        #expect(Self.drain(&feed) == ["meta@2000", "vh@2000", "ah@2000", "V@2000", "a@2010", "v@2033"])
        _ = feed.sample(Self.v(2066))
        #expect(Self.drain(&feed) == ["v@2066"])
    }

    @Test func aGOPLargerThanTheBoundIsNotKept() {
        var feed = RelayFeed(settings: .init(maximumQueuedBytes: 100))
        feed.tracks(video: Self.video, audio: nil)
        _ = feed.sample(Self.v(0, key: true, bytes: 60))
        _ = feed.sample(Self.v(33, bytes: 60))
        feed.connected()
        #expect(Self.drain(&feed).isEmpty)
        _ = feed.sample(Self.v(66))
        #expect(Self.drain(&feed).isEmpty, "waits for the next keyframe")
    }

    @Test func anOverflowDropsTheQueueAndResumesAtTheNextKeyframe() {
        var feed = RelayFeed(settings: .init(maximumQueuedBytes: 200))
        feed.tracks(video: Self.video, audio: Self.audio)
        feed.connected()
        _ = feed.sample(Self.v(-33, key: true, bytes: 1000))  // timestamps below 0 are sent as 0
        #expect(feed.queuedMessages == 4, "one message larger than the bound still goes when the socket keeps up")
        _ = Self.drain(&feed)
        var overflows: [RelayFeed.Overflow] = []
        for ms in stride(from: Int64(0), to: 400, by: 33) {
            if let overflow = feed.sample(Self.v(ms, key: ms == 0, bytes: 30)) { overflows.append(overflow) }
        }
        #expect(overflows.count == 1)
        #expect(overflows.first?.messages ?? 0 > 3)
        #expect(feed.queuedMessages == 0 && feed.isWaitingForKeyframe)
        _ = feed.sample(Self.a(420))
        _ = feed.sample(Self.v(429, key: true))
        #expect(Self.drain(&feed) == ["meta@429", "vh@429", "ah@429", "V@429"])
    }

    @Test func aKeyframeArrivingAtAnOverflowStartsAgainAtOnce() {
        var feed = RelayFeed(settings: .init(maximumQueuedBytes: 300))
        feed.tracks(video: Self.video, audio: nil)
        feed.connected()
        _ = feed.sample(Self.v(0, key: true, bytes: 400))
        let overflow = feed.sample(Self.v(2000, key: true))
        #expect(overflow != nil)
        #expect(Self.drain(&feed) == ["meta@2000", "vh@2000", "V@2000"])
    }

    @Test func audioFromBeforeTheResumingKeyframeIsSkipped() {
        var feed = RelayFeed()
        feed.tracks(video: Self.video, audio: Self.audio)
        feed.connected()
        for sample in [Self.v(100, key: true), Self.a(90), Self.a(110), Self.v(133)] { _ = feed.sample(sample) }
        #expect(Self.drain(&feed) == ["meta@100", "vh@100", "ah@100", "V@100", "a@110", "v@133"])
    }

    @Test func aVideoTrackAppearingLateStartsAtItsKeyframe() {
        var feed = RelayFeed()
        feed.tracks(video: nil, audio: Self.audio)
        feed.connected()
        _ = feed.sample(Self.a(0))
        feed.tracks(video: Self.video, audio: Self.audio)
        _ = feed.sample(Self.v(10))
        _ = feed.sample(Self.a(21))
        _ = feed.sample(Self.v(43, key: true))
        #expect(Self.drain(&feed) == ["meta@0", "ah@0", "a@0", "meta@43", "vh@43", "ah@43", "V@43"])
    }

    @Test func aPublisherReconnectCarriesTheTimestampsOn() {
        var feed = RelayFeed(settings: .init(resumeGap: 100))
        feed.tracks(video: Self.video, audio: Self.audio)
        feed.connected()
        _ = feed.sample(Self.v(5000, key: true))
        _ = feed.sample(Self.v(5033))
        _ = Self.drain(&feed)
        feed.sessionStarted()  // the new publisher starts from 0 again
        _ = feed.sample(Self.a(0))
        _ = feed.sample(Self.v(0, key: true))
        _ = feed.sample(Self.a(20))
        _ = feed.sample(Self.v(33))
        #expect(Self.drain(&feed) == ["meta@5133", "vh@5133", "ah@5133", "V@5133", "a@5153", "v@5166"])
    }

    @Test func aTargetReconnectResumesWithoutRebasing() {
        var feed = RelayFeed()
        feed.tracks(video: Self.video, audio: nil)
        feed.connected()
        _ = feed.sample(Self.v(0, key: true))
        feed.disconnected()
        _ = feed.sample(Self.v(2000, key: true))
        feed.connected()
        #expect(Self.drain(&feed) == ["meta@2000", "vh@2000", "V@2000"])
    }

    @Test func aTrackChangeIsQueuedInOrder() {
        var feed = RelayFeed()
        feed.tracks(video: Self.video, audio: Self.audio)
        feed.connected()
        _ = feed.sample(Self.v(0, key: true))
        feed.tracks(video: Self.video, audio: .aac(AudioSpecificConfig(objectType: 2, samplingFrequencyIndex: 4, channelConfiguration: 1)))
        _ = feed.sample(Self.a(10))
        #expect(Self.drain(&feed) == ["meta@0", "vh@0", "ah@0", "V@0", "ah@0", "a@10"])
    }

    @Test func audioOnlyBroadcastsStartAtAnyAudioFrame() {
        var feed = RelayFeed()
        feed.tracks(video: nil, audio: Self.audio)
        _ = feed.sample(Self.a(0))
        _ = feed.sample(Self.a(21))
        feed.connected()
        _ = feed.sample(Self.a(42))
        #expect(Self.drain(&feed) == ["meta@21", "ah@21", "a@21", "a@42"])
    }
}

@Suite struct FLVTagWriterTests {
    @Test func whatItWritesTheDemuxerReadsBack() throws {
        let record = try AVCDecoderConfigurationRecord(parsing: ByteBuffer(bytes: goldenAVCRecord))
        let config = try AudioSpecificConfig(parsing: ByteBuffer(bytes: goldenASC))
        var demuxer = FLVDemuxer()
        _ = try demuxer.video(timestamp: 0, body: FLVTagWriter.sequenceHeader(.h264(record)))
        _ = try demuxer.audio(timestamp: 0, body: FLVTagWriter.sequenceHeader(.aac(config)))
        let frame = MediaSample(kind: .video, dts: 900, pts: 900 - 90 * 40, isKeyframe: true, payload: ByteBuffer(bytes: [0, 0, 0, 2, 0x65, 0x88]))
        let events = try demuxer.video(timestamp: 10, body: FLVTagWriter.body(frame))
        #expect(demuxer.videoConfiguration == record && demuxer.audioConfiguration == config)
        let samples = events.compactMap { if case .sample(let s) = $0 { s } else { nil } }
        #expect(samples.count == 1)
        #expect(samples.first?.pts == 900 - 90 * 40, "a negative composition time survives")
        #expect(samples.first?.payload == frame.payload && samples.first?.isKeyframe == true)
        let audio = try demuxer.audio(timestamp: 20, body: FLVTagWriter.body(MediaSample(kind: .audio, dts: 1800, pts: 1800, isKeyframe: true,
                                                                                        payload: ByteBuffer(bytes: [0x21, 0x10]))))
        #expect(audio.count == 1)
    }

    @Test func metadataAnnouncesBothTracks() throws {
        let record = try AVCDecoderConfigurationRecord(parsing: ByteBuffer(bytes: goldenAVCRecord))
        let values = try AMF0Decoder(maximumDepth: 4).decodeAll(FLVTagWriter.metadata(video: .h264(record), audio: nil))
        #expect(values.first == .string("@setDataFrame"))
        #expect(values.dropFirst().first == .string("onMetaData"))
        #expect(values.last?["videocodecid"] == .number(7))
        #expect(values.last?["audiocodecid"] == nil)
        #expect(values.last?["encoder"] == .string("onair"))
    }
}
