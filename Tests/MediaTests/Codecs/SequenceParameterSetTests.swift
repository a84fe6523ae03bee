import NIOCore
import Testing
@testable import Media

@Suite struct SequenceParameterSetTests {
    /// Real x264 SPS NAL units (from `ffmpeg -f lavfi -i testsrc=size=WxH:rate=R -pix_fmt yuv420p -c:v libx264`).
    static let golden: [(hex: String, profile: UInt8, level: UInt8, width: Int, height: Int, frameRate: Double?, progressive: Bool)] = [
        // 1280x720 High, 30 fps (time_scale 60, num_units_in_tick 1); contains emulation prevention bytes.
        ("6764001facd9405005bb0110000003001000000303c0f1831960", 100, 31, 1280, 720, 30, true),
        // 1920x1080 High 4.0, 25 fps: coded 1088 lines, cropped by 8.
        ("67640028acd940780227e5c044000003000400000300c83c60c658", 100, 40, 1920, 1080, 25, true),
        // 640x360 High 3.0, 29.97 fps (30000/1001): coded 368 lines, cropped.
        ("6764001eacd940a02ff9701100000303e90000ea600f162d96", 100, 30, 640, 360, 30000.0 / 1001.0, true),
        // 1280x720 interlaced (frame_mbs_only_flag 0): field pairs of 23 map units, crop unit 4.
        ("67640020acd940500bbf2e0220000003002000000783e2c5b2c0", 100, 32, 1280, 720, 30, false),
        // Baseline 320x240 without VUI (hand-assembled: profile 66, level 13, poc type 2).
        ("6742c00dda0507e4", 66, 13, 320, 240, nil, true),
    ]

    @Test(arguments: golden)
    func parsesRealStreams(sps: (hex: String, profile: UInt8, level: UInt8, width: Int, height: Int, frameRate: Double?, progressive: Bool)) throws {
        let parsed = try SequenceParameterSet(parsing: ByteBuffer(bytes: [UInt8](tsHex: sps.hex)))
        #expect(parsed.profileIndication == sps.profile)
        #expect(parsed.levelIndication == sps.level)
        #expect(parsed.width == sps.width)
        #expect(parsed.height == sps.height)
        #expect(parsed.isFrameMacroblocksOnly == sps.progressive)
        if let rate = sps.frameRate {
            #expect(abs((parsed.frameRate ?? 0) - rate) < 0.001)
        } else {
            #expect(parsed.frameRate == nil)
        }
    }

    @Test(arguments: [(UInt32(1), UInt32(60), Int64?(3000)), (1001, 60000, 3003), (0xFFFF_FFFF, 1, nil), (0xFFFF_FFFF, 8, nil),
                      (1, 2000, nil), (1, 2, 90_000)] as [(UInt32, UInt32, Int64?)])
    func aFrameDurationComesOnlyFromAPlausibleFrameRate(unitsInTick: UInt32, timeScale: UInt32, ticks: Int64?) throws {
        var sps = try SequenceParameterSet(parsing: ByteBuffer(bytes: [UInt8](tsHex: Self.golden[0].hex)))
        sps.numUnitsInTick = unitsInTick
        sps.timeScale = timeScale
        #expect(sps.frameDuration == ticks, "a hostile VUI (a frame of hours) must not reach the muxers' clock arithmetic")
    }

    @Test func removesEmulationPrevention() {
        let escaped = ByteBuffer(bytes: [0x67, 0x00, 0x00, 0x03, 0x01, 0x00, 0x00, 0x03, 0x00, 0x03, 0x00, 0x00, 0x03])
        #expect(Array(RawByteSequencePayload.unescaping(escaped).readableBytesView) == [0x67, 0, 0, 1, 0, 0, 0, 3, 0, 0])
    }

    @Test func otherNALUnitTypeIsRejected() {
        #expect(throws: H264Error.unexpectedNALUnitType(.pictureParameterSet, expected: .sequenceParameterSet)) {
            try SequenceParameterSet(parsing: ByteBuffer(bytes: MediaFixtures.pps720p))
        }
    }

    @Test func everyTruncationThrowsInsteadOfCrashing() throws {
        for sps in Self.golden {
            let bytes = [UInt8](tsHex: sps.hex)
            let whole = try SequenceParameterSet(parsing: ByteBuffer(bytes: bytes))
            // The VUI sits at the end; cutting into the header or size fields must throw.
            for length in 0..<min(bytes.count, 9) {
                #expect(throws: PayloadError.self) { try SequenceParameterSet(parsing: ByteBuffer(bytes: bytes.prefix(length))) }
            }
            // Any cut either throws a payload error or (cut inside trailing fields) still gives the same picture size.
            for length in 0...bytes.count {
                do {
                    let cut = try SequenceParameterSet(parsing: ByteBuffer(bytes: bytes.prefix(length)))
                    #expect(cut.width == whole.width && cut.height == whole.height, "cut at \(length)")
                } catch {
                    #expect(error is PayloadError || error is H264Error, "cut at \(length): \(error)")
                }
            }
        }
    }

    @Test func randomGarbageFailsWithATypedErrorOrGivesAPicture() {
        var generator = SeededGenerator(seed: 7)
        for _ in 0..<2000 {
            let bytes = [0x67] + (0..<Int.random(in: 0...40, using: &generator)).map { _ in UInt8.random(in: 0...255, using: &generator) }
            do {
                let sps = try SequenceParameterSet(parsing: ByteBuffer(bytes: bytes))
                #expect(sps.width > 0 && sps.height > 0, "\(bytes)")
            } catch {
                #expect(error is PayloadError || error is H264Error, "\(bytes): \(error)")
            }
        }
    }
}
