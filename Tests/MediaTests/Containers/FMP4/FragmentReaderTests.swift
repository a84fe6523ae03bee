import NIOCore
import Testing
@testable import Media

/// The fragment reader reads back the init segment and fragments the CMAF muxer writes.
@Suite struct FragmentReaderTests {
    @Test func readsBackTracksAndSamples() throws {
        var muxer = FragmentedMP4Muxer(video: .h264(MediaFixtures.record()), audio: .aac(MediaFixtures.aac))
        var bytes = ByteBuffer()
        var sent: [MediaSample] = []
        for frame in 0..<6 {
            let dts = Int64(frame) * 3000
            let video = MediaFixtures.video(dts: dts, pts: dts + 3000, key: frame == 0, size: 100 + frame)
            let audio = MediaFixtures.audio(dts: Int64(frame) * 1920, size: 30 + frame)
            try muxer.write(video, into: &bytes)
            try muxer.write(audio, into: &bytes)
            sent += [video, audio]
        }
        muxer.endFragment(endingAt: 18000, into: &bytes)
        let reader = try FragmentReader(initialization: muxer.initialization!)
        #expect(Set(reader.tracks.values.map(\.track.kind)) == [.video, .audio])
        #expect(reader.tracks.values.contains { $0.track == .aac(MediaFixtures.aac) || $0.track.kind == .audio })
        let read = try reader.samples(in: bytes)
        for kind in [TrackKind.video, .audio] {
            let a = sent.filter { $0.kind == kind }, b = read.filter { $0.kind == kind }
            #expect(a.count == b.count)
            for (x, y) in zip(a, b) {
                #expect(x.payload == y.payload && x.isKeyframe == y.isKeyframe)
                #expect(abs((y.dts - b.first!.dts) - (x.dts - a.first!.dts)) <= 2, "timing kept (to the audio clock's rounding)")
                if kind == .video { #expect(y.pts - y.dts == x.pts - x.dts) }
            }
        }
    }

    @Test func refusesSamplesOutsideTheirMediaData() throws {
        var muxer = FragmentedMP4Muxer(video: nil, audio: .aac(MediaFixtures.aac))
        var bytes = ByteBuffer()
        try muxer.write(MediaFixtures.audio(dts: 0, size: 64), into: &bytes)
        muxer.endFragment(endingAt: 1920, into: &bytes)
        let reader = try FragmentReader(initialization: muxer.initialization!)
        let cut = bytes.getSlice(at: 0, length: bytes.readableBytes - 10)!
        #expect(throws: (any Error).self) { _ = try reader.samples(in: cut) }
        #expect(throws: (any Error).self) { _ = try FragmentReader(initialization: ByteBuffer(bytes: [0, 0, 0, 8, 0x66, 0x72, 0x65, 0x65])) }
    }
}
