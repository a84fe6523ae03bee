import NIOCore
import Testing
@testable import Media

@Suite struct TransportStreamMuxerTests {
    typealias Fx = MediaFixtures
    static let offset = TransportStreamMuxer.timestampOffset

    /// Tables + a keyframe, audio, a B-frame-ish non-key frame (pts > dts), written twice (two segments).
    func muxTwoSegments(video: Bool = true, audio: Bool = true, videoSize: Int = 1000) throws -> ByteBuffer {
        var muxer = TransportStreamMuxer(video: video ? Fx.record() : nil, audio: audio ? Fx.aac : nil)
        var buffer = ByteBuffer()
        for segment in 0..<2 {
            let base = Int64(segment) * 180_000
            muxer.writeTables(into: &buffer)
            if video { try muxer.write(Fx.video(dts: base, key: true, size: videoSize), into: &buffer) }
            if audio { try muxer.write(Fx.audio(dts: base + 10), into: &buffer) }
            if video { try muxer.write(Fx.video(dts: base + 3000, pts: base + 9000, key: false, size: 183), into: &buffer) }
            if audio { try muxer.write(Fx.audio(dts: base + 1930, size: 400), into: &buffer) }
        }
        return buffer
    }

    @Test(arguments: [(true, true), (true, false), (false, true)])
    func packetsAre188BytesWithCountersPerPIDContinuingAcrossSegments(video: Bool, audio: Bool) throws {
        let reader = TransportStreamReader(try muxTwoSegments(video: video, audio: audio))
        for pid in [UInt16(0), 0x1000, 0x100, 0x101] {
            let counters = reader.continuityCounters(pid: pid)
            #expect(counters == counters.indices.map { UInt8($0 % 16) }, "PID \(pid)")
        }
        #expect(reader.packets.contains { $0.pid == 0x100 } == video)
        #expect(reader.packets.contains { $0.pid == 0x101 } == audio)
    }

    @Test(arguments: [1, 100, 160, 169, 170, 171, 175, 176, 177, 178, 182, 183, 184, 1000, 5000])
    func stuffingFillsEveryPacketForAnyPayloadSize(size: Int) throws {
        var muxer = TransportStreamMuxer(video: Fx.record(), audio: Fx.aac)
        var buffer = ByteBuffer()
        try muxer.write(Fx.video(dts: 0, key: false, size: size), into: &buffer)
        try muxer.write(Fx.audio(dts: 0, size: size), into: &buffer)
        let reader = TransportStreamReader(buffer)
        let video = try #require(reader.pes(pid: 0x100).first)
        #expect(video.payload == [0, 0, 0, 1, 0x09, 0xF0, 0, 0, 0, 1, 0x41] + [UInt8](repeating: 0xAB, count: size - 1))
        let audio = try #require(reader.pes(pid: 0x101).first)
        #expect(audio.payload.count == 7 + size)
        #expect(audio.packetLength == 8 + 7 + size)
    }

    @Test func videoPESCarriesAnnexBWithParameterSetsAndPCRAndRandomAccess() throws {
        let reader = TransportStreamReader(try muxTwoSegments())
        let video = reader.pes(pid: 0x100)
        #expect(video.count == 4)
        let key = video[0]
        #expect(key.streamID == 0xE0 && key.packetLength == 0)
        #expect(key.randomAccess && key.pcr == 0 + Self.offset - TransportStreamMuxer.pcrDelay)
        #expect(key.pts == Self.offset && key.dts == nil)
        let expected: [UInt8] = [0, 0, 0, 1, 0x09, 0xF0, 0, 0, 0, 1] + Fx.sps720p + [0, 0, 0, 1] + Fx.pps720p
            + [0, 0, 0, 1, 0x65] + [UInt8](repeating: 0xAB, count: 999)
        #expect(key.payload == expected)
        let delta = video[1]
        #expect(!delta.randomAccess && delta.pcr == 3000 + Self.offset - TransportStreamMuxer.pcrDelay)
        #expect(delta.pts == 9000 + Self.offset && delta.dts == 3000 + Self.offset)
        #expect(delta.payload == [0, 0, 0, 1, 0x09, 0xF0, 0, 0, 0, 1, 0x41] + [UInt8](repeating: 0xAB, count: 182))
    }

    @Test func audioPESHasADTSAndNoPCRWhenVideoCarriesIt() throws {
        let reader = TransportStreamReader(try muxTwoSegments())
        let audio = reader.pes(pid: 0x101)
        #expect(audio.count == 4)
        #expect(audio.allSatisfy { $0.pcr == nil && $0.streamID == 0xC0 && $0.dts == nil })
        #expect(Array(audio[0].payload.prefix(7)) == [0xFF, 0xF1, 0x4C, 0x80, 0x03, 0x7F, 0xFC])  // 27 bytes
        #expect(audio[0].pts == 10 + Self.offset)
    }

    @Test func audioOnlyCarriesPCROnEveryAudioPES() throws {
        let reader = TransportStreamReader(try muxTwoSegments(video: false))
        let audio = reader.pes(pid: 0x101)
        #expect(audio.map(\.pcr) == [10, 1930, 180_010, 181_930].map { $0 + Self.offset - TransportStreamMuxer.pcrDelay })
        #expect(audio.allSatisfy { $0.randomAccess })
    }

    @Test(arguments: [
        Int64(1 << 33) - TransportStreamMuxer.timestampOffset,  // wraps exactly to 0
        Int64(1 << 33) - TransportStreamMuxer.timestampOffset - 1,
        Int64(3 << 33) + 12_345,
        -TransportStreamMuxer.timestampOffset - 90_000,  // negative input stays in range
    ])
    func timestampsAndPCRWrapAt2To33(dts: Int64) throws {
        var muxer = TransportStreamMuxer(video: Fx.record(), audio: nil)
        var buffer = ByteBuffer()
        try muxer.write(Fx.video(dts: dts, pts: dts + 6000, key: true), into: &buffer)
        let pes = try #require(TransportStreamReader(buffer).pes(pid: 0x100).first)
        let modulus = Int64(1) << 33
        func wrapped(_ value: Int64) -> Int64 { ((value % modulus) + modulus) % modulus }
        #expect(pes.dts == wrapped(dts + Self.offset))
        #expect(pes.pts == wrapped(dts + 6000 + Self.offset))
        #expect(pes.pcr == wrapped(dts + Self.offset - TransportStreamMuxer.pcrDelay))
    }

    @Test func sampleAlreadyCarryingParameterSetsAndAUDIsNotDuplicated() throws {
        var muxer = TransportStreamMuxer(video: Fx.record(), audio: nil)
        var buffer = ByteBuffer()
        let payload = Fx.avcc([[0x09, 0x10], Fx.sps720p, Fx.pps720p, [0x65, 0x01]])
        try muxer.write(MediaSample(kind: .video, dts: 0, pts: 0, isKeyframe: true, payload: payload), into: &buffer)
        let pes = try #require(TransportStreamReader(buffer).pes(pid: 0x100).first)
        #expect(pes.payload == [0, 0, 0, 1, 0x09, 0xF0, 0, 0, 0, 1] + Fx.sps720p + [0, 0, 0, 1] + Fx.pps720p + [0, 0, 0, 1, 0x65, 0x01])
    }

    @Test func truncatedNALLengthThrowsAndWritesNothing() {
        var muxer = TransportStreamMuxer(video: Fx.record(), audio: nil)
        var buffer = ByteBuffer()
        let payload = ByteBuffer(bytes: [0x00, 0x00, 0x00, 0x10, 0x65, 0x01])
        #expect(throws: H264Error.nalUnitOverrun(length: 16, available: 2)) {
            try muxer.write(MediaSample(kind: .video, dts: 0, pts: 0, isKeyframe: true, payload: payload), into: &buffer)
        }
        #expect(buffer.readableBytes == 0)
        #expect(muxer.continuityCounters[0x100, default: 0] == 0)
    }

    @Test func missingTrackAndUnrepresentableAudioThrow() {
        var muxer = TransportStreamMuxer(video: nil, audio: AudioSpecificConfig(objectType: 42, samplingFrequencyIndex: 3, channelConfiguration: 2))
        var buffer = ByteBuffer()
        #expect(throws: MPEGTSError.trackNotConfigured(.video)) { try muxer.write(Fx.video(dts: 0, key: true), into: &buffer) }
        #expect(throws: AACError.notRepresentableInADTS(objectType: 42, samplingFrequencyIndex: 3)) {
            try muxer.write(Fx.audio(dts: 0), into: &buffer)
        }
        #expect(buffer.readableBytes == 0)
    }

    @Test func heAACIsSignalledAsItsLCCore() throws {
        var muxer = TransportStreamMuxer(video: nil, audio: AudioSpecificConfig(objectType: 5, samplingFrequencyIndex: 6, channelConfiguration: 2))
        var buffer = ByteBuffer()
        try muxer.write(Fx.audio(dts: 0), into: &buffer)
        let pes = try #require(TransportStreamReader(buffer).pes(pid: 0x101).first)
        #expect(pes.payload[2] == 0x58)  // profile 1 (LC), frequency index 6 (24 kHz core)
    }
}
