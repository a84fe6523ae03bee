import NIOCore

/// The body of an FLV video tag as carried in an RTMP video message (type 9).
/// Adobe FLV and F4V File Format Specification v10.1, E.4.3.1 (VIDEODATA, AVCVIDEOPACKET);
/// Enhanced RTMP v1 (ExVideoTagHeader) for the FourCC form, which onair recognises only to refuse it by name.
///
/// ```
/// legacy:   FrameType (4) | CodecID (4) | AVCPacketType (8) | CompositionTime (SI24, ms) | data
/// enhanced: IsExHeader (1) = 1 | FrameType (3) | PacketType (4) | FourCC (32) | ...
/// ```
/// AVCPacketType: 0 = sequence header (AVCDecoderConfigurationRecord), 1 = NAL units (AVCC), 2 = end of sequence.
/// CompositionTime is signed: Ecamm Live sends negative values.
public enum FLVVideoTag: Sendable {
    /// An AVCDecoderConfigurationRecord.
    case avcSequenceHeader(ByteBuffer)
    /// AVCC NAL units with the composition time offset in milliseconds (signed).
    case avcNALUnits(isKeyframe: Bool, compositionTime: Int32, data: ByteBuffer)
    /// Something to skip: end of sequence, video info/command frames.
    case ignorable

    /// FLV frame types.
    static let keyframe: UInt8 = 1
    static let commandFrame: UInt8 = 5

    /// Parses a tag body; throws ``FLVError/unsupportedCodec(kind:name:)`` for anything but H.264.
    public init(parsing body: ByteBuffer) throws {
        var reader = PayloadReader(body)
        let first: UInt8 = try reader.read()
        if first & 0x80 != 0 {
            // Enhanced RTMP: the FourCC follows the first byte (after any ModEx), name it in the refusal.
            let fourCC: UInt32 = try reader.read()
            throw FLVError.unsupportedCodec(kind: .video, name: FLVVideoTag.fourCCName(fourCC))
        }
        let frameType = first >> 4
        let codecID = first & 0x0F
        guard codecID == 7 else {
            throw FLVError.unsupportedCodec(kind: .video, name: FLVVideoTag.legacyCodecName(codecID))
        }
        if frameType == FLVVideoTag.commandFrame {
            self = .ignorable
            return
        }
        let packetType: UInt8 = try reader.read()
        let compositionTime = try reader.readInt24()
        switch packetType {
        case 0: self = .avcSequenceHeader(reader.readRest())
        case 1: self = .avcNALUnits(isKeyframe: frameType == FLVVideoTag.keyframe, compositionTime: compositionTime, data: reader.readRest())
        case 2: self = .ignorable
        default: throw FLVError.invalidPacketType(packetType)
        }
    }

    /// Names of the legacy FLV video codec ids.
    static func legacyCodecName(_ id: UInt8) -> String {
        switch id {
        case 2: "Sorenson H.263"
        case 3: "Screen video"
        case 4: "On2 VP6"
        case 5: "On2 VP6 with alpha"
        case 6: "Screen video v2"
        case 12: "HEVC (non-standard codec id 12)"
        default: "FLV video codec id \(id)"
        }
    }

    /// Names an Enhanced RTMP FourCC, e.g. `hvc1` -> "HEVC (hvc1)".
    static func fourCCName(_ code: UInt32) -> String {
        let chars = (0..<4).map { shift -> Character in
            let byte = UInt8(truncatingIfNeeded: code >> (24 - 8 * shift))
            return (0x20..<0x7F).contains(byte) ? Character(Unicode.Scalar(byte)) : "?"
        }
        let tag = String(chars)
        let names = ["hvc1": "HEVC", "av01": "AV1", "vp09": "VP9", "avc1": "H.264 (enhanced)"]
        return "\(names[tag] ?? "Enhanced RTMP video") (\(tag))"
    }
}
