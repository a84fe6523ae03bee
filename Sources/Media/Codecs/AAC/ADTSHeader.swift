import NIOCore

/// adts_fixed_header + adts_variable_header, ISO/IEC 14496-3 §1.A.2.2 (no CRC), 7 bytes.
///
/// ```
/// syncword (12) = 0xFFF | ID (1) = 0 (MPEG-4) | layer (2) = 0 | protection_absent (1) = 1
/// profile (2) = objectType - 1 | sampling_frequency_index (4) | private (1) | channel_configuration (3)
/// original/copy (1) | home (1) | copyright_id_bit (1) | copyright_id_start (1)
/// aac_frame_length (13) = 7 + raw frame | adts_buffer_fullness (11) = 0x7FF (VBR) | raw_data_blocks - 1 (2) = 0
/// ```
public struct ADTSHeader: Sendable, Equatable {
    /// Size of a header without CRC.
    public static let size = 7
    /// Largest aac_frame_length (header included): the field has 13 bits.
    public static let maximumFrameLength = (1 << 13) - 1

    /// Audio object type, 1...4 (profile = objectType - 1).
    public var objectType: Int
    /// Sampling frequency index, 0...12.
    public var samplingFrequencyIndex: Int
    /// Channel configuration, 0...7.
    public var channelConfiguration: Int
    /// Length of the raw AAC frame that follows the header.
    public var payloadLength: Int

    /// Creates the header for one raw frame of `payloadLength` bytes.
    ///
    /// Throws ``AACError/notRepresentableInADTS(objectType:samplingFrequencyIndex:)`` for object types
    /// outside 1...4 or an explicit sampling rate, and ``AACError/frameTooLarge(length:limit:)`` when
    /// header plus frame exceed 8191 bytes.
    public init(config: AudioSpecificConfig, payloadLength: Int) throws {
        guard (1...4).contains(config.objectType), (0...12).contains(config.samplingFrequencyIndex) else {
            throw AACError.notRepresentableInADTS(
                objectType: config.objectType, samplingFrequencyIndex: config.samplingFrequencyIndex)
        }
        guard payloadLength >= 0, payloadLength + Self.size <= Self.maximumFrameLength else {
            throw AACError.frameTooLarge(length: payloadLength, limit: Self.maximumFrameLength - Self.size)
        }
        objectType = config.objectType
        samplingFrequencyIndex = config.samplingFrequencyIndex
        channelConfiguration = config.channelConfiguration & 0x07
        self.payloadLength = payloadLength
    }

    /// The seven header bytes.
    public var bytes: [UInt8] {
        let frameLength = payloadLength + Self.size
        let profile = UInt8(objectType - 1)
        let frequency = UInt8(samplingFrequencyIndex)
        let channels = UInt8(channelConfiguration)
        return [
            0xFF,
            0xF1,  // syncword low nibble, MPEG-4, layer 0, protection absent
            profile << 6 | frequency << 2 | channels >> 2,
            (channels & 0x03) << 6 | UInt8((frameLength >> 11) & 0x03),
            UInt8((frameLength >> 3) & 0xFF),
            UInt8(frameLength & 0x07) << 5 | 0x1F,  // + buffer fullness 0x7FF, high 5 bits
            0xFC,  // buffer fullness low 6 bits, one raw data block
        ]
    }

    /// Appends the header to `buffer`.
    public func write(into buffer: inout ByteBuffer) {
        buffer.writeBytes(bytes)
    }
}

extension ADTSHeader {
    /// Reads the header at the start of `bytes` (§1.A.2.2; with or without CRC): the config it
    /// describes, the header's length and the whole frame's. Throws ``AACError/invalidADTS`` for a
    /// missing syncword or a frame length shorter than its header.
    public static func parse(_ bytes: ByteBuffer) throws -> (config: AudioSpecificConfig, headerLength: Int, frameLength: Int) {
        guard let header = bytes.getBytes(at: bytes.readerIndex, length: size), header[0] == 0xFF, header[1] & 0xF6 == 0xF0 else {
            throw AACError.invalidADTS
        }
        let headerLength = header[1] & 0x01 == 1 ? size : size + 2
        let frameLength = Int(header[3] & 0x03) << 11 | Int(header[4]) << 3 | Int(header[5] >> 5)
        let frequency = Int(header[2] >> 2 & 0x0F)
        guard frameLength >= headerLength, frequency < AudioSpecificConfig.sampleRates.count else { throw AACError.invalidADTS }
        let config = AudioSpecificConfig(objectType: Int(header[2] >> 6) + 1, samplingFrequencyIndex: frequency,
                                         channelConfiguration: Int(header[2] & 0x01) << 2 | Int(header[3] >> 6))
        return (config, headerLength, frameLength)
    }
}
