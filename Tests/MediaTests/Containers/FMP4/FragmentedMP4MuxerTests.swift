import NIOCore
import Testing
@testable import Media

/// The fMP4 muxer's output read back with ``BoxReader``: golden box tables for the init section and
/// fragments, and the fields players rely on (ISO/IEC 14496-12 §8.8, CMAF §7.3.2).
@Suite struct FragmentedMP4MuxerTests {
    typealias Fx = MediaFixtures

    /// Box types, depth-first, indented by nesting: a golden table of a file's structure.
    static func table(_ boxes: [BoxReader.Box], depth: Int = 0) -> [String] {
        boxes.flatMap { box in [String(repeating: "  ", count: depth) + box.type.description] + table(box.children, depth: depth + 1) }
    }

    static var muxer: FragmentedMP4Muxer { FragmentedMP4Muxer(video: .h264(Fx.record()), audio: .aac(Fx.aac)) }

    @Test func initSectionHasTheGoldenBoxTable() throws {
        let boxes = try BoxReader.read(try #require(Self.muxer.initialization))
        #expect(Self.table(boxes) == [
            "ftyp", "moov", "  mvhd",
            "  trak", "    tkhd", "    mdia", "      mdhd", "      hdlr", "      minf", "        vmhd",
            "        dinf", "          dref", "            url ", "        stbl", "          stsd", "            avc1",
            "              avcC", "          stts", "          stsc", "          stsz", "          stco",
            "  trak", "    tkhd", "    mdia", "      mdhd", "      hdlr", "      minf", "        smhd",
            "        dinf", "          dref", "            url ", "        stbl", "          stsd", "            mp4a",
            "              esds", "          stts", "          stsc", "          stsz", "          stco",
            "  mvex", "    trex", "    trex",
        ])
    }

    @Test func initSectionFieldsMatchTheTracks() throws {
        let boxes = try BoxReader.read(try #require(Self.muxer.initialization))
        let ftyp = try #require(boxes.first)
        #expect(Array(ftyp.body.readableBytesView) == Array("iso6".utf8) + [0, 0, 0, 0] + Array("iso6cmfcmp41".utf8))
        let moov = try #require(boxes.last)
        let traks = moov.all("trak")
        // tkhd v0: track_ID at 12, width/height 16.16 at 76/80.
        let tkhd = try #require(traks[0].first(["tkhd"]))
        #expect(tkhd.body.getInteger(at: tkhd.body.readerIndex + 12, as: UInt32.self) == 1)
        #expect(tkhd.body.getInteger(at: tkhd.body.readerIndex + 76, as: UInt32.self) == 1280 << 16)
        #expect(tkhd.body.getInteger(at: tkhd.body.readerIndex + 80, as: UInt32.self) == 720 << 16)
        // mdhd v0: timescale at 12 — 90 kHz video, the sample rate for audio.
        let timescales = try traks.map { try #require($0.first(["mdia", "mdhd"])) }.map { $0.body.getInteger(at: $0.body.readerIndex + 12, as: UInt32.self) }
        #expect(timescales == [90_000, 48_000])
        // avcC is the RTMP sequence header byte for byte.
        let avcC = try #require(traks[0].first(["mdia", "minf", "stbl", "stsd", "avc1", "avcC"]))
        #expect(Array(avcC.body.readableBytesView) == Fx.recordBytes())
        // esds ends with DecoderSpecificInfo (tag 5, the AudioSpecificConfig) and SLConfig (tag 6 = 2).
        let esds = try #require(traks[1].first(["mdia", "minf", "stbl", "stsd", "mp4a", "esds"]))
        #expect(Array(esds.body.readableBytesView.suffix(7)) == [0x05, 0x02, 0x11, 0x90, 0x06, 0x01, 0x02])
        let mp4a = try #require(traks[1].first(["mdia", "minf", "stbl", "stsd", "mp4a"]))
        #expect(mp4a.body.getInteger(at: mp4a.body.readerIndex + 16, as: UInt16.self) == 2)  // channelcount
        #expect(mp4a.body.getInteger(at: mp4a.body.readerIndex + 24, as: UInt32.self) == 48_000 << 16)
    }

    @Test func audioOnlyAndVideoOnlyInitSectionsHaveOneTrack() throws {
        for (video, audio) in [(MediaTrack.h264(Fx.record()), nil), (nil, MediaTrack.aac(Fx.aac))] as [(MediaTrack?, MediaTrack?)] {
            let bytes = try #require(FragmentedMP4Muxer(video: video, audio: audio).initialization)
            let moov = try #require(try BoxReader.read(bytes).last)
            #expect(moov.all("trak").count == 1)
            #expect(moov.first(["mvex"])?.all("trex").count == 1)
        }
    }

    /// Parsed `trun` v1: flags, data offset, and per sample (duration, size, flags, composition offset).
    struct Run { var flags: UInt32; var dataOffset: Int32; var samples: [(UInt32, UInt32, UInt32?, Int32?)] }

    static func run(_ trun: BoxReader.Box) throws -> Run {
        var body = trun.body
        let versionFlags: UInt32 = try body.next()
        #expect(versionFlags >> 24 == 1)
        let flags = versionFlags & 0xFFFFFF
        let count: UInt32 = try body.next()
        let offset: Int32 = try body.next()
        var samples: [(UInt32, UInt32, UInt32?, Int32?)] = []
        for _ in 0..<count {
            let duration: UInt32 = try body.next()
            let size: UInt32 = try body.next()
            let sampleFlags: UInt32? = flags & 0x400 != 0 ? try body.next() : nil
            let composition: Int32? = flags & 0x800 != 0 ? try body.next() : nil
            samples.append((duration, size, sampleFlags, composition))
        }
        #expect(body.readableBytes == 0)
        return Run(flags: flags, dataOffset: offset, samples: samples)
    }

    @Test func fragmentHasTheGoldenBoxTableAndConsistentOffsets() throws {
        var muxer = Self.muxer
        var scratch = ByteBuffer()
        // An IDR, a B-frame pair with composition offsets (PTS = DTS + 2 frames, then DTS - ... ), audio.
        let frames = [Fx.video(dts: 0, pts: 6000, key: true, size: 50), Fx.video(dts: 3000, pts: 12000, key: false, size: 30),
                      Fx.video(dts: 6000, pts: 3000, key: false, size: 20)]
        for frame in frames { try muxer.write(frame, into: &scratch) }
        for index in 0..<4 { try muxer.write(Fx.audio(dts: Int64(index) * 1920, size: 10 + index), into: &scratch) }
        #expect(scratch.readableBytes == 0, "fMP4 holds samples until the fragment ends")
        var fragment = ByteBuffer()
        muxer.endFragment(endingAt: 9000, into: &fragment)
        let boxes = try BoxReader.read(fragment)
        #expect(Self.table(boxes) == ["moof", "  mfhd", "  traf", "    tfhd", "    tfdt", "    trun",
                                      "  traf", "    tfhd", "    tfdt", "    trun", "mdat"])
        let moof = boxes[0], mdat = boxes[1]
        #expect(moof.first(["mfhd"])?.body.getInteger(at: moof.first(["mfhd"])!.body.readerIndex + 4, as: UInt32.self) == 1)
        let trafs = moof.all("traf")
        for (traf, id) in zip(trafs, [UInt32(1), 2]) {
            let tfhd = try #require(traf.first(["tfhd"]))
            #expect(tfhd.body.getInteger(at: tfhd.body.readerIndex, as: UInt32.self) == 0x02_0000)  // default-base-is-moof
            #expect(tfhd.body.getInteger(at: tfhd.body.readerIndex + 4, as: UInt32.self) == id)
        }
        let tfdts = try trafs.map { try #require($0.first(["tfdt"])) }
        #expect(tfdts.map { $0.body.getInteger(at: $0.body.readerIndex, as: UInt32.self) } == [0x0100_0000, 0x0100_0000])  // v1
        #expect(tfdts[0].body.getInteger(at: tfdts[0].body.readerIndex + 4, as: UInt64.self) == 126_000)
        #expect(tfdts[1].body.getInteger(at: tfdts[1].body.readerIndex + 4, as: UInt64.self) == 126_000 * 48_000 / 90_000)

        let video = try Self.run(try #require(trafs[0].first(["trun"])))
        #expect(video.flags == 0xF01)
        #expect(video.samples.map(\.0) == [3000, 3000, 3000])
        #expect(video.samples.map(\.1) == [54, 34, 24])
        #expect(video.samples.map(\.2) == [0x0200_0000, 0x0101_0000, 0x0101_0000])
        #expect(video.samples.map(\.3) == [6000, 9000, -3000])
        let audio = try Self.run(try #require(trafs[1].first(["trun"])))
        #expect(audio.flags == 0x301)
        #expect(audio.samples.map(\.0) == [1024, 1024, 1024, 1024])
        #expect(audio.samples.map(\.1) == [10, 11, 12, 13])
        // Data offsets count from the moof's first byte to each track's bytes in the mdat.
        let moofSize = moof.body.readableBytes + 8
        #expect(Int(video.dataOffset) == moofSize + 8)
        #expect(Int(audio.dataOffset) == moofSize + 8 + 112)
        #expect(mdat.body.readableBytes == 112 + 46)
        #expect(mdat.body.getInteger(at: mdat.body.readerIndex, as: UInt32.self) == 50)  // the IDR's NAL length
    }

    @Test func sequenceNumbersRiseAndHeldSamplesAreCleared() throws {
        var muxer = Self.muxer
        var scratch = ByteBuffer(), first = ByteBuffer(), second = ByteBuffer(), none = ByteBuffer()
        try muxer.write(Fx.video(dts: 0, key: true), into: &scratch)
        muxer.endFragment(endingAt: 3000, into: &first)
        muxer.endFragment(endingAt: 6000, into: &none)
        #expect(none.readableBytes == 0, "nothing held: no fragment")
        try muxer.write(Fx.video(dts: 3000, key: false), into: &scratch)
        muxer.endFragment(endingAt: 6000, into: &second)
        let numbers = try [first, second].map { try #require(BoxReader.read($0).first?.first(["mfhd"])) }
            .map { $0.body.getInteger(at: $0.body.readerIndex + 4, as: UInt32.self) }
        #expect(numbers == [1, 2])
        let trun = try Self.run(try #require(BoxReader.read(second).first?.first(["traf", "trun"])))
        #expect(trun.samples.count == 1)
        #expect(trun.flags & 0x800 == 0, "no composition offsets: no field")
    }

    @Test func audioDecodeTimeCountsFramesAndReanchorsOnAJump() throws {
        var muxer = FragmentedMP4Muxer(video: nil, audio: .aac(Fx.aac))
        var scratch = ByteBuffer(), fragment = ByteBuffer()
        // Millisecond-rounded RTMP timestamps (21, 43, 64 ms): decode times still step 1024 samples.
        for ms in [0, 21, 43, 64] { try muxer.write(Fx.audio(dts: Int64(ms) * 90), into: &scratch) }
        muxer.endFragment(endingAt: 0, into: &fragment)
        // A 10 s jump re-anchors on the DTS.
        try muxer.write(Fx.audio(dts: 10 * 90_000), into: &scratch)
        muxer.endFragment(endingAt: 0, into: &fragment)
        let trafs = try BoxReader.read(fragment).filter { $0.type == "moof" }.map { try #require($0.first(["traf"])) }
        let bases = try trafs.map { try #require($0.first(["tfdt"])) }.map { $0.body.getInteger(at: $0.body.readerIndex + 4, as: UInt64.self) }
        let expected: [UInt64?] = [67_200, 547_200]  // (126_000 [+ 900_000]) * 48 kHz / 90 kHz
        #expect(bases == expected)
        #expect(try Self.run(try #require(trafs[0].first(["trun"]))).samples.map(\.0) == [1024, 1024, 1024, 1024])
    }

    @Test func malformedVideoThrowsAndHoldsNothing() throws {
        var muxer = Self.muxer
        var scratch = ByteBuffer(), fragment = ByteBuffer()
        let bad = MediaSample(kind: .video, dts: 0, pts: 0, isKeyframe: true, payload: ByteBuffer(bytes: [0, 0, 0, 9, 0x65]))
        #expect(throws: H264Error.self) { try muxer.write(bad, into: &scratch) }
        muxer.endFragment(endingAt: 3000, into: &fragment)
        #expect(fragment.readableBytes == 0)
        var audioOnly = FragmentedMP4Muxer(video: nil, audio: .aac(Fx.aac))
        #expect(throws: MPEGTSError.self) { try audioOnly.write(Fx.video(dts: 0, key: true), into: &scratch) }
    }
}

extension ByteBuffer {
    struct Truncated: Error {}

    /// The next big-endian integer, or a throw when the buffer runs out.
    mutating func next<T: FixedWidthInteger>(_ type: T.Type = T.self) throws -> T {
        guard let value = readInteger(as: T.self) else { throw Truncated() }
        return value
    }
}

@Suite struct BoxReaderTests {
    static let free: [UInt8] = Array("free".utf8), mdat: [UInt8] = Array("mdat".utf8), moov: [UInt8] = Array("moov".utf8)

    static let wellFormed: [([UInt8], Int)] = [
        ([], 0),
        ([0, 0, 0, 8] + free, 1),
        ([0, 0, 0, 0] + mdat + [1, 2, 3], 1),                         // size 0: to the end
        ([0, 0, 0, 1] + mdat + [0, 0, 0, 0, 0, 0, 0, 17, 9], 1),      // largesize
    ]

    @Test(arguments: wellFormed)
    func readsWellFormedInput(bytes: [UInt8], count: Int) throws {
        #expect(try BoxReader.read(ByteBuffer(bytes: bytes)).count == count)
    }

    static let malformed: [[UInt8]] = [
        [0, 0, 0],                                                    // truncated header
        [0, 0, 0, 9] + free,                                          // size past the end
        [0, 0, 0, 4] + free,                                          // size smaller than the header
        [0, 0, 0, 1] + mdat + [0, 0, 0, 0],                           // truncated largesize
        [0, 0, 0, 16] + moov + [0, 0, 0, 9] + Array("trak".utf8),     // child past its parent
    ]

    @Test(arguments: malformed)
    func refusesMalformedInput(bytes: [UInt8]) {
        #expect(throws: BoxReader.Failure.self) { try BoxReader.read(ByteBuffer(bytes: bytes)) }
    }

    @Test func refusesDeepNesting() {
        var bytes: [UInt8] = []
        for _ in 0..<20 { bytes = [0, 0, 0, UInt8(8 + bytes.count)] + Array("moov".utf8) + bytes }
        #expect(throws: BoxReader.Failure.tooDeep(limit: BoxReader.maximumDepth)) { try BoxReader.read(ByteBuffer(bytes: bytes)) }
    }
}
