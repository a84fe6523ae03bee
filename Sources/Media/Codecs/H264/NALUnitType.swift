import NIOCore

/// nal_unit_type, ITU-T H.264 §7.4.1 Table 7-1: the low five bits of the NAL unit header byte.
///
/// ```
/// +---+-----+---------+
/// | F | NRI |  Type   |   forbidden_zero_bit (1) | nal_ref_idc (2) | nal_unit_type (5)
/// +---+-----+---------+
/// ```
public struct NALUnitType: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    /// The 5-bit type value, 0...31.
    public var rawValue: UInt8

    /// Creates a type from its value; only the low five bits are kept.
    public init(rawValue: UInt8) { self.rawValue = rawValue & 0x1F }

    /// Reads the type from a NAL unit header byte.
    public init(headerByte: UInt8) { self.init(rawValue: headerByte) }

    /// Coded slice of a non-IDR picture.
    public static let nonIDRSlice = NALUnitType(rawValue: 1)
    /// Coded slice of an IDR picture (a random access point).
    public static let idrSlice = NALUnitType(rawValue: 5)
    /// Supplemental enhancement information.
    public static let sei = NALUnitType(rawValue: 6)
    /// Sequence parameter set.
    public static let sequenceParameterSet = NALUnitType(rawValue: 7)
    /// Picture parameter set.
    public static let pictureParameterSet = NALUnitType(rawValue: 8)
    /// Access unit delimiter.
    public static let accessUnitDelimiter = NALUnitType(rawValue: 9)

    /// The decimal type value.
    public var description: String { String(rawValue) }
}

/// Emulation prevention, ITU-T H.264 §7.4.1: inside a NAL unit every `00 00 03` hides a `00 00 0x`
/// (x <= 3); removing the 0x03 gives the raw byte sequence payload (RBSP) that bit parsers read.
public enum RawByteSequencePayload {
    /// The RBSP of `nalUnit`: the bytes with every emulation prevention byte removed.
    public static func unescaping(_ nalUnit: ByteBuffer) -> ByteBuffer {
        var output = ByteBuffer()
        output.reserveCapacity(nalUnit.readableBytes)
        var zeros = 0
        for byte in nalUnit.readableBytesView {
            if zeros >= 2 && byte == 0x03 {
                zeros = 0
                continue
            }
            zeros = byte == 0 ? zeros + 1 : 0
            output.writeInteger(byte)
        }
        return output
    }
}
