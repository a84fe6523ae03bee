import NIOCore

/// `mp4a` with its `esds`: ISO/IEC 14496-14 §6.7 and §5.6 on top of AudioSampleEntry (14496-12 §12.2.3).
///
/// ```
/// SampleEntry header | reserved (2x32) | channelcount (16) | samplesize (16) = 16 | pre_defined (16)
/// reserved (16) | samplerate (32) = rate << 16
/// esds (FullBox v0) { ES_Descriptor (tag 3, 14496-1 §7.2.6.5): ES_ID (16), flags (8) = 0
///   DecoderConfigDescriptor (tag 4): objectTypeIndication 0x40 (Audio ISO/IEC 14496-3), streamType
///     0x05 << 2 | 1 (reserved), bufferSizeDB (24), maxBitrate (32), avgBitrate (32)
///     DecoderSpecificInfo (tag 5): the AudioSpecificConfig (the FLV AAC sequence header)
///   SLConfigDescriptor (tag 6): predefined = 2 (MP4 files) }
/// ```
public struct MP4AudioSampleEntry: Sendable, Equatable {
    public var trackID: UInt32
    public var configuration: AudioSpecificConfig

    public init(trackID: UInt32, configuration: AudioSpecificConfig) {
        self.trackID = trackID
        self.configuration = configuration
    }

    public func write(into buffer: inout ByteBuffer) {
        buffer.writeBox("mp4a") { body in
            body.writeSampleEntryHeader()
            body.writeZeros(8)
            // Channel configuration 0 means "in the AudioSpecificConfig"; 2 is what readers assume then.
            body.writeInteger(UInt16(configuration.channelConfiguration == 0 ? 2 : min(configuration.channelConfiguration, 8)))
            body.writeInteger(UInt16(16))
            body.writeZeros(4)
            body.writeInteger(UInt32(truncatingIfNeeded: min(configuration.sampleRate, 65535) << 16))
            body.writeFullBox("esds", version: 0, flags: 0) { esds in
                var decoderSpecific = ByteBuffer()
                decoderSpecific.writeImmutableBuffer(configuration.bytes)
                var decoderConfig = ByteBuffer()
                decoderConfig.writeInteger(UInt8(0x40))
                decoderConfig.writeInteger(UInt8(0x15))
                decoderConfig.writeUInt24(0)
                decoderConfig.writeInteger(UInt32(0))
                decoderConfig.writeInteger(UInt32(0))
                Self.writeDescriptor(tag: 5, decoderSpecific, into: &decoderConfig)
                var elementary = ByteBuffer()
                elementary.writeInteger(UInt16(truncatingIfNeeded: trackID))
                elementary.writeInteger(UInt8(0))
                Self.writeDescriptor(tag: 4, decoderConfig, into: &elementary)
                Self.writeDescriptor(tag: 6, ByteBuffer(bytes: [0x02]), into: &elementary)
                Self.writeDescriptor(tag: 3, elementary, into: &esds)
            }
        }
    }

    /// A descriptor (ISO/IEC 14496-1 §8.3.3): tag, then the size in 7-bit groups, high bit = more follow.
    static func writeDescriptor(tag: UInt8, _ body: ByteBuffer, into buffer: inout ByteBuffer) {
        buffer.writeInteger(tag)
        let size = body.readableBytes
        var groups: [UInt8] = [UInt8(size & 0x7F)]
        var rest = size >> 7
        while rest > 0 {
            groups.insert(UInt8(rest & 0x7F) | 0x80, at: 0)
            rest >>= 7
        }
        buffer.writeBytes(groups)
        buffer.writeImmutableBuffer(body)
    }
}
