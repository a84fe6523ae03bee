import NIOCore

/// AudioSpecificConfig, ISO/IEC 14496-3 §1.6.2.1 (the FLV/RTMP "AAC sequence header").
///
/// ```
/// audioObjectType (5) [31 -> 32 + escape (6)]
/// samplingFrequencyIndex (4) [15 -> samplingFrequency (24)]
/// channelConfiguration (4)
/// ... (GASpecificConfig, SBR/PS signalling: ignored)
/// ```
public struct AudioSpecificConfig: Sendable, Equatable {
    /// Audio object type (2 = AAC LC, 5 = SBR/HE-AAC, 29 = PS).
    public var objectType: Int
    /// Sampling frequency index 0...12, or 15 when `sampleRate` was explicit.
    public var samplingFrequencyIndex: Int
    /// Sampling rate in Hz.
    public var sampleRate: Int
    /// Channel configuration 0...7.
    public var channelConfiguration: Int
    /// The config as it arrived, or as the fields encode it (the `esds` DecoderSpecificInfo of fMP4).
    public var bytes: ByteBuffer

    /// The sampling rates indexed by samplingFrequencyIndex.
    public static let sampleRates = [96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350]

    /// Creates a config from its fields (used by tests and by ADTS input).
    public init(objectType: Int, samplingFrequencyIndex: Int, channelConfiguration: Int) {
        self.objectType = objectType
        self.samplingFrequencyIndex = samplingFrequencyIndex
        self.sampleRate = Self.sampleRates[min(samplingFrequencyIndex, Self.sampleRates.count - 1)]
        self.channelConfiguration = channelConfiguration
        let packed = UInt16(objectType & 0x1F) << 11 | UInt16(samplingFrequencyIndex & 0x0F) << 7 | UInt16(channelConfiguration & 0x0F) << 3
        bytes = ByteBuffer(integer: packed)
    }

    /// Parses the leading fields of an AudioSpecificConfig.
    public init(parsing payload: ByteBuffer) throws {
        bytes = payload
        var bits = BitReader(payload)
        var type = Int(try bits.read(5))
        if type == 31 { type = 32 + Int(try bits.read(6)) }
        guard type != 0 else { throw AACError.invalidObjectType(type) }
        objectType = type
        samplingFrequencyIndex = Int(try bits.read(4))
        if samplingFrequencyIndex == 15 {
            sampleRate = Int(try bits.read(24))
        } else if samplingFrequencyIndex < Self.sampleRates.count {
            sampleRate = Self.sampleRates[samplingFrequencyIndex]
        } else {
            throw AACError.invalidSamplingFrequencyIndex(samplingFrequencyIndex)
        }
        guard sampleRate > 0 else { throw AACError.invalidSamplingFrequencyIndex(samplingFrequencyIndex) }
        channelConfiguration = Int(try bits.read(4))
    }

    /// The RFC 6381 codec string `mp4a.40.N`.
    public var codecString: String { "mp4a.40.\(objectType)" }

    /// Duration of one AAC frame (1024 samples) in 90 kHz ticks, rounded.
    public var frameDurationTicks: Int64 {
        (1024 * MediaTime.timescale + Int64(sampleRate) / 2) / Int64(sampleRate)
    }
}

/// Errors of the AAC layer.
public enum AACError: Error, Equatable, Sendable {
    /// Object type 0 is invalid.
    case invalidObjectType(Int)
    /// A reserved sampling frequency index (13 or 14).
    case invalidSamplingFrequencyIndex(Int)
    /// ADTS can only carry object types 1...4 with a frequency index below 13.
    case notRepresentableInADTS(objectType: Int, samplingFrequencyIndex: Int)
    /// The frame is larger than ADTS's 13-bit length field allows.
    case frameTooLarge(length: Int, limit: Int)
    /// Bytes that are not an ADTS frame (no syncword, or a length shorter than the header).
    case invalidADTS
}
