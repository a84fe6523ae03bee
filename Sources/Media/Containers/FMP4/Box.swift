import NIOCore

/// Writing ISO base media file format boxes, ISO/IEC 14496-12 §4.2 (Object Structure).
///
/// ```
/// Box:      size (32, whole box incl. header) | type (4 ASCII)           | body
/// FullBox:  size | type | version (8) | flags (24)                       | body
/// ```
/// Sizes are patched in after the body is written, so a box nests by calling ``ByteBuffer/writeBox(_:body:)``
/// inside another's body. Boxes here never reach 4 GiB (a fragment is a fraction of a second), so
/// the 64-bit `largesize` form is not written.
extension ByteBuffer {
    /// Writes a box: its header, then `body`, then patches the size.
    @inlinable
    public mutating func writeBox(_ type: FourCC, body: (inout ByteBuffer) -> Void) {
        let start = writerIndex
        writeInteger(UInt32(0))
        writeInteger(type.rawValue)
        body(&self)
        setInteger(UInt32(writerIndex - start), at: start)
    }

    /// Writes a FullBox: a box whose body starts with version and flags.
    @inlinable
    public mutating func writeFullBox(_ type: FourCC, version: UInt8, flags: UInt32, body: (inout ByteBuffer) -> Void) {
        writeBox(type) { buffer in
            buffer.writeInteger(UInt32(version) << 24 | (flags & 0x00FF_FFFF))
            body(&buffer)
        }
    }

    /// Writes `count` zero bytes (reserved fields).
    @inlinable
    mutating func writeZeros(_ count: Int) {
        writeRepeatingByte(0, count: count)
    }
}

/// A four-character code: a box type or a brand, ISO/IEC 14496-12 §4.2, §4.3.
public struct FourCC: Sendable, Hashable, CustomStringConvertible, ExpressibleByStringLiteral {
    /// The four bytes, big-endian.
    public let rawValue: UInt32

    /// From exactly four ASCII characters.
    public init(stringLiteral value: StaticString) {
        precondition(value.utf8CodeUnitCount == 4, "a four-character code has four characters")
        var raw: UInt32 = 0
        value.withUTF8Buffer { bytes in for byte in bytes { raw = raw << 8 | UInt32(byte) } }
        rawValue = raw
    }

    /// From the raw 32-bit value.
    public init(rawValue: UInt32) {
        self.rawValue = rawValue
    }

    /// The four characters; bytes outside printable ASCII as `?`.
    public var description: String {
        String(decoding: (0..<4).map { shift -> UInt8 in
            let byte = UInt8(truncatingIfNeeded: rawValue >> (24 - 8 * shift))
            return (0x20...0x7E).contains(byte) ? byte : UInt8(ascii: "?")
        }, as: UTF8.self)
    }
}
