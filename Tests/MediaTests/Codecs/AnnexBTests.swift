import NIOCore
import Testing
@testable import Media

@Suite struct AnnexBTests {
    typealias Fx = MediaFixtures
    static let aud: [UInt8] = [0, 0, 0, 1, 0x09, 0xF0]
    static let parameterSets: [UInt8] = [0, 0, 0, 1] + Fx.sps720p + [0, 0, 0, 1] + Fx.pps720p

    @Test(arguments: [
        // IDR alone: AUD, SPS, PPS, then the slice.
        ([[0x65, 0x88, 0x80]], aud + parameterSets + [0, 0, 0, 1, 0x65, 0x88, 0x80]),
        // SEI + IDR: parameter sets go after the AUD, before the SEI.
        ([[0x06, 0x05, 0x01], [0x65, 0x88]], aud + parameterSets + [0, 0, 0, 1, 0x06, 0x05, 0x01, 0, 0, 0, 1, 0x65, 0x88]),
        // Non-IDR: no parameter sets.
        ([[0x41, 0x9A]], aud + [0, 0, 0, 1, 0x41, 0x9A]),
        // Own AUD is replaced by exactly one leading AUD.
        ([[0x09, 0x30], [0x41, 0x9A]], aud + [0, 0, 0, 1, 0x41, 0x9A]),
        // Own SPS and PPS: nothing inserted.
        ([[0x67, 0x42], [0x68, 0xCE], [0x65, 0x01]], aud + [0, 0, 0, 1, 0x67, 0x42, 0, 0, 0, 1, 0x68, 0xCE, 0, 0, 0, 1, 0x65, 0x01]),
        // Empty sample: just the AUD.
        ([], aud),
    ] as [([[UInt8]], [UInt8])])
    func convertsWithAUDAndParameterSets(units: [[UInt8]], expected: [UInt8]) throws {
        for lengthSize in [1, 2, 4] {
            let output = try AnnexB.convert(avcc: Fx.avcc(units, lengthSize: lengthSize), nalUnitLengthSize: lengthSize,
                                            parameterSets: Fx.record())
            #expect(Array(output.readableBytesView) == expected, "length size \(lengthSize)")
        }
    }

    @Test func zeroLengthNALUnitsAreSkipped() throws {
        let output = try AnnexB.convert(avcc: ByteBuffer(bytes: [0, 0, 0, 0, 0, 0, 0, 2, 0x41, 0x01]), nalUnitLengthSize: 4)
        #expect(Array(output.readableBytesView) == Self.aud + [0, 0, 0, 1, 0x41, 0x01])
    }

    @Test func detectsNALUnitTypes() throws {
        let payload = Fx.avcc([[0x09, 0x10], Fx.sps720p, Fx.pps720p, [0x06, 0x00], [0x65, 0x00]])
        let types = try AnnexB.nalUnitTypes(inAVCC: payload, nalUnitLengthSize: 4)
        #expect(types == [.accessUnitDelimiter, .sequenceParameterSet, .pictureParameterSet, .sei, .idrSlice])
        #expect(try AnnexB.nalUnitTypes(inAVCC: Fx.avcc([[0x41]]), nalUnitLengthSize: 4) == [.nonIDRSlice])
    }

    @Test(arguments: [
        ([0x00, 0x00, 0x00, 0x05, 0x65, 0x01] as [UInt8], H264Error.nalUnitOverrun(length: 5, available: 2)),
        ([0x00, 0x00, 0x00, 0x01, 0x65, 0x00, 0x00], H264Error.nalUnitOverrun(length: 4, available: 2)),
        ([0xFF, 0xFF, 0xFF, 0xFF], H264Error.nalUnitOverrun(length: 0xFFFF_FFFF, available: 0)),
    ])
    func truncatedLengthsThrow(bytes: [UInt8], error: H264Error) {
        var output = ByteBuffer()
        #expect(throws: error) {
            try AnnexB.convert(avcc: ByteBuffer(bytes: bytes), nalUnitLengthSize: 4, parameterSets: nil, into: &output)
        }
        #expect(output.readableBytes == 0)
    }

    @Test(arguments: [0, 3 + 2, 8])
    func invalidLengthSizeThrows(size: Int) {
        #expect(throws: H264Error.invalidNALUnitLengthSize(size)) {
            try AnnexB.convert(avcc: ByteBuffer(bytes: [1, 2, 3]), nalUnitLengthSize: size)
        }
    }

    @Test func everyPrefixAndRandomGarbageNeverCrashes() {
        let full = Array(Fx.avcc([Fx.sps720p, [0x65] + [UInt8](repeating: 7, count: 30)], lengthSize: 2).readableBytesView)
        for length in 0...full.count {
            _ = try? AnnexB.convert(avcc: ByteBuffer(bytes: full.prefix(length)), nalUnitLengthSize: 2, parameterSets: Fx.record())
        }
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<500 {
            let bytes = (0..<Int.random(in: 0...64, using: &generator)).map { _ in UInt8.random(in: 0...255, using: &generator) }
            for size in [1, 2, 4] { _ = try? AnnexB.convert(avcc: ByteBuffer(bytes: bytes), nalUnitLengthSize: size) }
        }
    }
}

@Suite struct AnnexBToAVCCTests {
    @Test func splitsOnThreeAndFourByteStartCodes() {
        let stream = ByteBuffer(bytes: [0, 0, 0, 1, 0x09, 0xF0, 0, 0, 1, 0x67, 1, 2, 0, 0, 0, 1, 0x68, 3, 0, 0, 1, 0x65, 7, 7, 7, 0])
        let units = AnnexB.nalUnits(inAnnexB: stream).map { Array($0.readableBytesView) }
        #expect(units == [[0x09, 0xF0], [0x67, 1, 2], [0x68, 3], [0x65, 7, 7, 7]])
        let converted = AnnexB.avcc(fromAnnexB: stream)
        #expect(converted.isIDR)
        #expect(converted.sps.map { Array($0.readableBytesView) } == [[0x67, 1, 2]])
        #expect(converted.pps.map { Array($0.readableBytesView) } == [[0x68, 3]])
        #expect(Array(converted.sample.readableBytesView) == [0, 0, 0, 4, 0x65, 7, 7, 7], "no AUD, SPS or PPS in the sample")
        #expect(AnnexB.nalUnits(inAnnexB: ByteBuffer(bytes: [1, 2, 3])).isEmpty)
    }
}
