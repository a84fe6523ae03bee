import NIOCore
import Testing
@testable import Media

/// A minimal AVCDecoderConfigurationRecord: High profile level 3.1, 4-byte lengths, one SPS and one PPS.
let goldenAVCRecord: [UInt8] = [0x01, 0x64, 0x00, 0x1F, 0xFF, 0xE1, 0x00, 0x04, 0x67, 0x64, 0x00, 0x1F,
                                0x01, 0x00, 0x03, 0x68, 0xEE, 0x3C]
/// AAC LC, 48 kHz, stereo.
let goldenASC: [UInt8] = [0x11, 0x90]

@Suite struct FLVTagTests {
    @Test func avcSequenceHeader() throws {
        guard case .avcSequenceHeader(let payload) = try FLVVideoTag(parsing: ByteBuffer(bytes: [0x17, 0x00, 0, 0, 0] + goldenAVCRecord)) else {
            Issue.record("not a sequence header"); return
        }
        let record = try AVCDecoderConfigurationRecord(parsing: payload)
        #expect(record.codecString == "avc1.64001f")
        #expect(record.nalUnitLengthSize == 4)
        #expect(record.sequenceParameterSets.map { Array($0.readableBytesView) } == [[0x67, 0x64, 0x00, 0x1F]])
        #expect(record.pictureParameterSets.map { Array($0.readableBytesView) } == [[0x68, 0xEE, 0x3C]])
    }

    @Test(arguments: [
        ([0x17, 0x01, 0x00, 0x00, 0x50] as [UInt8], true, 80 as Int32),
        ([0x27, 0x01, 0xFF, 0xFF, 0xC4], false, -60),   // negative composition time (Ecamm Live)
        ([0x27, 0x01, 0x80, 0x00, 0x00], false, -8_388_608),
    ])
    func nalUnitsWithSignedCompositionTime(header: [UInt8], key: Bool, cts: Int32) throws {
        guard case .avcNALUnits(let isKeyframe, let compositionTime, let data) = try FLVVideoTag(parsing: ByteBuffer(bytes: header + [0, 0, 0, 1, 0x65])) else {
            Issue.record("not NAL units"); return
        }
        #expect(isKeyframe == key)
        #expect(compositionTime == cts)
        #expect(Array(data.readableBytesView) == [0, 0, 0, 1, 0x65])
    }

    @Test(arguments: [
        ([0x22, 0x00] as [UInt8], "Sorenson H.263"),
        ([0x14, 0x00], "On2 VP6"),
        ([0x1C, 0x00], "HEVC (non-standard codec id 12)"),
        ([0x90, 0x68, 0x76, 0x63, 0x31], "HEVC (hvc1)"),
        ([0x91, 0x61, 0x76, 0x30, 0x31], "AV1 (av01)"),
    ])
    func otherVideoCodecsAreRefusedByName(body: [UInt8], name: String) {
        #expect(throws: FLVError.unsupportedCodec(kind: .video, name: name)) { try FLVVideoTag(parsing: ByteBuffer(bytes: body)) }
    }

    @Test func audioTags() throws {
        guard case .aacSequenceHeader(let payload) = try FLVAudioTag(parsing: ByteBuffer(bytes: [0xAF, 0x00] + goldenASC)) else {
            Issue.record("not an AAC sequence header"); return
        }
        let config = try AudioSpecificConfig(parsing: payload)
        #expect(config == AudioSpecificConfig(objectType: 2, samplingFrequencyIndex: 3, channelConfiguration: 2))
        #expect(config.sampleRate == 48000)
        #expect(config.codecString == "mp4a.40.2")
        #expect(config.frameDurationTicks == 1920)
        guard case .aacRaw(let raw) = try FLVAudioTag(parsing: ByteBuffer(bytes: [0xAF, 0x01, 0x21, 0x10])) else {
            Issue.record("not raw AAC"); return
        }
        #expect(Array(raw.readableBytesView) == [0x21, 0x10])
    }

    @Test(arguments: [([0x2F, 0xFF] as [UInt8], "MP3"), ([0x0F], "Linear PCM"), ([0x9F, 0x00], "Enhanced RTMP audio (Opus/FLAC/AC-3/E-AC-3)"), ([0x7F], "G.711 A-law")])
    func otherAudioFormatsAreRefusedByName(body: [UInt8], name: String) {
        #expect(throws: FLVError.unsupportedCodec(kind: .audio, name: name)) { try FLVAudioTag(parsing: ByteBuffer(bytes: body)) }
    }

    @Test(arguments: [[] as [UInt8], [0x17], [0x17, 0x01, 0x00], [0xAF], [0x90, 0x68]])
    func truncatedTagsThrow(body: [UInt8]) {
        #expect(throws: PayloadError.self) {
            if body.first == 0xAF { _ = try FLVAudioTag(parsing: ByteBuffer(bytes: body)) } else { _ = try FLVVideoTag(parsing: ByteBuffer(bytes: body)) }
        }
    }

    @Test(arguments: [
        ([0x00, 0x64, 0x00, 0x1F, 0xFF, 0xE1] as [UInt8], H264Error.unsupportedConfigurationVersion(0) as any Error),
        ([0x01, 0x64, 0x00, 0x1F, 0xFF, 0xE1, 0x00, 0x10, 0x67], PayloadError.truncated(needed: 16, available: 1)),  // SPS length past the end
        ([0x01, 0x64, 0x00, 0x1F, 0xFF, 0xE0, 0x00], H264Error.missingParameterSets(sps: 0, pps: 0)),
        ([0x01, 0x64, 0x00, 0x1F, 0xFE, 0xE1, 0x00, 0x01, 0x67, 0x01, 0x00, 0x01, 0x68], H264Error.invalidNALUnitLengthSize(3)),
        ([], PayloadError.truncated(needed: 1, available: 0)),
    ])
    func malformedAVCRecordsThrow(bytes: [UInt8], error: any Error) {
        expect(error) { try AVCDecoderConfigurationRecord(parsing: ByteBuffer(bytes: bytes)) }
    }

    @Test(arguments: [
        ([] as [UInt8], PayloadError.truncated(needed: 1, available: 0) as any Error),
        ([0x00, 0x00], AACError.invalidObjectType(0)),
        ([0x16, 0x80], AACError.invalidSamplingFrequencyIndex(13)),
        ([0xF8], PayloadError.truncated(needed: 1, available: 0)),  // object type 31 escapes into bits that are not there
    ])
    func malformedAudioSpecificConfigsThrow(bytes: [UInt8], error: any Error) {
        expect(error) { try AudioSpecificConfig(parsing: ByteBuffer(bytes: bytes)) }
    }

    /// `body` throws exactly `expected` (same type, same case, same values).
    private func expect(_ expected: any Error, sourceLocation: SourceLocation = #_sourceLocation, _ body: () throws -> Any) {
        do {
            _ = try body()
            Issue.record("no error; expected \(expected)", sourceLocation: sourceLocation)
        } catch {
            #expect(String(reflecting: error) == String(reflecting: expected), sourceLocation: sourceLocation)
        }
    }
}
