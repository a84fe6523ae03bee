import NIOCore
import Testing
@testable import Media

@Suite struct ADTSHeaderTests {
    @Test(arguments: [
        // 48 kHz stereo AAC-LC, 100-byte frame: frame length 107.
        (2, 3, 2, 100, "fff14c800d7ffc"),
        // 44.1 kHz mono AAC-LC, 371-byte frame: frame length 378.
        (2, 4, 1, 371, "fff150402f5ffc"),
        // The largest frame: aac_frame_length 8191.
        (2, 3, 2, 8184, "fff14c83fffffc"),
        // AAC Main, 96 kHz, 5.1.
        (1, 0, 6, 0, "fff10180 00ff fc"),
    ])
    func golden(objectType: Int, frequencyIndex: Int, channels: Int, length: Int, hex: String) throws {
        let config = AudioSpecificConfig(objectType: objectType, samplingFrequencyIndex: frequencyIndex, channelConfiguration: channels)
        let header = try ADTSHeader(config: config, payloadLength: length)
        var buffer = ByteBuffer()
        header.write(into: &buffer)
        #expect(Array(buffer.readableBytesView) == [UInt8](tsHex: hex))
    }

    @Test(arguments: [5, 29, 42, 0])
    func objectTypesADTSCannotCarryThrow(objectType: Int) {
        let config = AudioSpecificConfig(objectType: objectType, samplingFrequencyIndex: 3, channelConfiguration: 2)
        #expect(throws: AACError.notRepresentableInADTS(objectType: objectType, samplingFrequencyIndex: 3)) {
            try ADTSHeader(config: config, payloadLength: 10)
        }
    }

    @Test func explicitSamplingRateThrows() throws {
        // objectType 2, frequency index 15 + 24-bit rate 48000, stereo.
        let config = try AudioSpecificConfig(parsing: ByteBuffer(bytes: [0x17, 0x80, 0x5D, 0xC0, 0x10]))
        #expect(config.samplingFrequencyIndex == 15)
        #expect(throws: AACError.notRepresentableInADTS(objectType: 2, samplingFrequencyIndex: 15)) {
            try ADTSHeader(config: config, payloadLength: 10)
        }
    }

    @Test(arguments: [8185, 100_000, -1])
    func framesTooLargeThrow(length: Int) {
        #expect(throws: AACError.frameTooLarge(length: length, limit: 8184)) {
            try ADTSHeader(config: MediaFixtures.aac, payloadLength: length)
        }
    }
}

@Suite struct ADTSParsingTests {
    @Test func readsBackTheHeaderItWrites() throws {
        let config = AudioSpecificConfig(objectType: 2, samplingFrequencyIndex: 4, channelConfiguration: 1)
        var bytes = ByteBuffer()
        try ADTSHeader(config: config, payloadLength: 300).write(into: &bytes)
        let parsed = try ADTSHeader.parse(bytes)
        #expect(parsed.config.objectType == 2 && parsed.config.sampleRate == 44100 && parsed.config.channelConfiguration == 1)
        #expect(parsed.headerLength == 7 && parsed.frameLength == 307)
        #expect(throws: AACError.invalidADTS) { _ = try ADTSHeader.parse(ByteBuffer(bytes: [0xFF, 0x00, 0, 0, 0, 0, 0])) }
        #expect(throws: AACError.invalidADTS) { _ = try ADTSHeader.parse(ByteBuffer(bytes: [0xFF, 0xF1])) }
    }
}
