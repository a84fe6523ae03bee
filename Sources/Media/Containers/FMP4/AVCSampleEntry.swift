import NIOCore

/// `avc1` with its `avcC`: ISO/IEC 14496-15 §5.4.2.1 on top of VisualSampleEntry (14496-12 §12.1.3).
///
/// ```
/// SampleEntry header | pre_defined (16) reserved (16) pre_defined (3x32) | width (16) height (16)
/// horizresolution = vertresolution = 0x00480000 (72 dpi) | reserved (32) | frame_count (16) = 1
/// compressorname (32 bytes) | depth (16) = 0x0018 | pre_defined (16) = -1 | avcC { AVCDecoderConfigurationRecord }
/// ```
/// The record is the FLV/RTMP AVC sequence header, copied byte for byte.
public struct AVCSampleEntry: Sendable, Equatable {
    public var width: Int
    public var height: Int
    public var configuration: AVCDecoderConfigurationRecord

    public init(width: Int, height: Int, configuration: AVCDecoderConfigurationRecord) {
        self.width = width
        self.height = height
        self.configuration = configuration
    }

    public func write(into buffer: inout ByteBuffer) {
        buffer.writeBox("avc1") { body in
            body.writeSampleEntryHeader()
            body.writeZeros(16)
            body.writeInteger(UInt16(clamping: width))
            body.writeInteger(UInt16(clamping: height))
            body.writeInteger(UInt32(0x0048_0000))
            body.writeInteger(UInt32(0x0048_0000))
            body.writeZeros(4)
            body.writeInteger(UInt16(1))
            body.writeZeros(32)
            body.writeInteger(UInt16(0x0018))
            body.writeInteger(Int16(-1))
            body.writeBox("avcC") { $0.writeImmutableBuffer(configuration.bytes) }
        }
    }
}
