import NIOCore
import Testing
@testable import Media

/// A progressive MP4: ftyp, moov (full sample tables, offsets into the mdat), mdat; discontinuities stitched.
@Suite struct ProgressiveMovieTests {
    private func file(_ movie: ProgressiveMovie, _ samples: [MediaSample]) -> ByteBuffer {
        var bytes = movie.header()
        for sample in samples where movie.includes(sample.kind) {
            var payload = sample.payload
            bytes.writeBuffer(&payload)
        }
        return bytes
    }

    private func table(_ boxes: [BoxReader.Box], track: Int, _ type: FourCC) -> [UInt32] {
        let trak = boxes.first { $0.type == "moov" }!.all("trak")[track]
        var body = trak.first(["mdia", "minf", "stbl", type])!.body
        _ = body.readInteger(as: UInt32.self)
        var values: [UInt32] = []
        while let value = body.readInteger(as: UInt32.self) { values.append(value) }
        return values
    }

    @Test func indexFirstWithEveryChunkOffsetPointingAtItsSample() throws {
        var samples: [MediaSample] = []
        for frame in 0..<4 {
            samples.append(MediaFixtures.video(dts: Int64(frame) * 3000, pts: Int64(frame) * 3000 + 3000, key: frame % 2 == 0, size: 50 + frame))
            samples.append(MediaFixtures.audio(dts: Int64(frame) * 1920, size: 10 + frame))
        }
        var movie = ProgressiveMovie(video: .h264(MediaFixtures.record()), audio: .aac(MediaFixtures.aac))
        for sample in samples { movie.add(sample) }
        let bytes = file(movie, samples)
        let boxes = try BoxReader.read(bytes)
        #expect(boxes.map(\.type) == ["ftyp", "moov", "mdat"])
        #expect(table(boxes, track: 0, "stss") == [2, 1, 3], "entry count, then sync samples 1 and 3")
        #expect(table(boxes, track: 0, "stts") == [1, 4, 3000])
        #expect(table(boxes, track: 1, "stts") == [1, 4, 1024], "audio in AAC frames at 48 kHz")
        for (track, kind) in [(0, TrackKind.video), (1, .audio)] {
            let offsets = table(boxes, track: track, "stco").dropFirst()
            let sizes = table(boxes, track: track, "stsz").dropFirst(2)
            let sent = samples.filter { $0.kind == kind }
            #expect(offsets.count == sent.count && sizes.count == sent.count)
            for (offset, sample) in zip(offsets, sent) {
                #expect(bytes.getSlice(at: Int(offset), length: sample.payload.readableBytes) == sample.payload)
            }
        }
        #expect(abs(movie.duration - 4 * 3000.0 / 90_000) < 0.001)
    }

    @Test func aDiscontinuityFollowsWhatCameBefore() throws {
        var movie = ProgressiveMovie(video: nil, audio: .aac(MediaFixtures.aac), brand: .m4a)
        for frame in 0..<5 { movie.add(MediaFixtures.audio(dts: 1_000_000 + Int64(frame) * 1920)) }
        // A reconnect: the encoder's clock starts again near 0.
        for frame in 0..<5 { movie.add(MediaFixtures.audio(dts: 90 + Int64(frame) * 1920), startsDiscontinuity: frame == 0) }
        // A clock that jumps back without a discontinuity being said is treated as one.
        for frame in 0..<5 { movie.add(MediaFixtures.audio(dts: Int64(frame) * 1920)) }
        var bytes = movie.header()
        bytes.writeRepeatingByte(0x21, count: Int(movie.mediaDataSize))
        let boxes = try BoxReader.read(bytes)
        #expect(FourCC(rawValue: bytes.getInteger(at: 8, as: UInt32.self)!) == "M4A ")
        #expect(table(boxes, track: 0, "stts") == [1, 15, 1024], "fifteen frames back to back")
        #expect(abs(movie.duration - 15 * 1024 / 48000.0) < 0.001)
        #expect(movie.includes(.audio) && !movie.includes(.video))
        let added = movie.add(MediaFixtures.video(dts: 0, key: true))
        #expect(!added, "an audio-only movie leaves video out")
    }
}
