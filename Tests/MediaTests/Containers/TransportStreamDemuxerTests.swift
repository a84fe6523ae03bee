import NIOCore
import Testing
@testable import Media

/// The demuxer reads back what the muxer writes, sample for sample, and survives damaged input.
@Suite struct TransportStreamDemuxerTests {
    private func segment(_ samples: [MediaSample], muxer: inout TransportStreamMuxer) throws -> ByteBuffer {
        var bytes = ByteBuffer()
        muxer.writeTables(into: &bytes)
        for sample in samples { try muxer.write(sample, into: &bytes) }
        return bytes
    }

    private var samples: [MediaSample] {
        var samples: [MediaSample] = []
        for frame in 0..<10 {
            let dts = Int64(frame) * 3000
            samples.append(MediaFixtures.video(dts: dts, pts: dts + 6000, key: frame == 0, size: 300 + frame * 50))
            samples.append(MediaFixtures.audio(dts: Int64(frame) * 1920, size: 200 + frame))
        }
        return samples
    }

    @Test func readsBackWhatTheMuxerWrote() throws {
        var muxer = TransportStreamMuxer(video: MediaFixtures.record(), audio: MediaFixtures.aac)
        var demuxer = TransportStreamDemuxer()
        let read = demuxer.read(try segment(samples, muxer: &muxer))
        #expect(demuxer.video?.sequenceParameterSets == MediaFixtures.record().sequenceParameterSets)
        #expect(demuxer.video?.pictureParameterSets == MediaFixtures.record().pictureParameterSets)
        #expect(demuxer.audio?.sampleRate == 48000 && demuxer.audio?.channelConfiguration == 2)
        #expect(demuxer.skipped == 0)
        for kind in [TrackKind.video, .audio] {
            let sent = samples.filter { $0.kind == kind }, got = read.filter { $0.kind == kind }
            #expect(got.count == sent.count)
            let offset = got.first!.dts - sent.first!.dts  // the muxer's timestamp offset
            for (a, b) in zip(sent, got) {
                #expect(b.dts - offset == a.dts && b.pts - offset == a.pts && b.isKeyframe == a.isKeyframe)
                #expect(b.payload == a.payload, "AVCC with four-byte lengths, without AUD, SPS and PPS; raw AAC")
            }
        }
    }

    @Test func unwrapsThe33BitClockAcrossSegments() throws {
        var muxer = TransportStreamMuxer(video: nil, audio: MediaFixtures.aac)
        var demuxer = TransportStreamDemuxer()
        let wrap: Int64 = 1 << 33
        let first = demuxer.read(try segment([MediaFixtures.audio(dts: wrap - 2 * 1920 - TransportStreamMuxer.timestampOffset)], muxer: &muxer))
        let second = demuxer.read(try segment([MediaFixtures.audio(dts: wrap + 1920 - TransportStreamMuxer.timestampOffset)], muxer: &muxer))
        #expect(second.first!.dts - first.first!.dts == 3 * 1920)
    }

    @Test(arguments: [0, 1, 100, 188, 189, 2000])
    func truncatedAndDamagedSegmentsNeverTrap(cut: Int) throws {
        var muxer = TransportStreamMuxer(video: MediaFixtures.record(), audio: MediaFixtures.aac)
        let bytes = try segment(samples, muxer: &muxer)
        var demuxer = TransportStreamDemuxer()
        _ = demuxer.read(bytes.getSlice(at: 0, length: min(cut, bytes.readableBytes))!)
        var garbage = bytes
        garbage.setBytes([UInt8](repeating: 0xFF, count: 8), at: min(cut, bytes.readableBytes - 8))
        var other = TransportStreamDemuxer()
        let read = other.read(garbage)
        #expect(read.count <= samples.count)
    }
}
