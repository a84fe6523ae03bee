import NIOCore

/// CRC-32/MPEG-2, ISO/IEC 13818-1 Annex A: the CRC_32 field that ends every PSI section (PAT, PMT).
///
/// ```
/// polynomial 0x04C11DB7, initial value 0xFFFFFFFF, no input/output reflection, no final XOR
/// check value: CRC("123456789") = 0x0376E6E7
/// ```
/// The CRC over a whole section including its CRC_32 field is zero.
public enum CRC32MPEG {
    /// The generator polynomial (x^32 + x^26 + x^23 + ... + 1).
    public static let polynomial: UInt32 = 0x04C1_1DB7

    /// Byte-at-a-time lookup table, most significant bit first.
    private static let table: [UInt32] = (0..<256).map { index in
        var crc = UInt32(index) << 24
        for _ in 0..<8 {
            crc = crc & 0x8000_0000 != 0 ? (crc << 1) ^ polynomial : crc << 1
        }
        return crc
    }

    /// The checksum of `bytes`.
    public static func checksum<Bytes: Sequence>(_ bytes: Bytes) -> UInt32 where Bytes.Element == UInt8 {
        var crc: UInt32 = 0xFFFF_FFFF
        for byte in bytes {
            crc = (crc << 8) ^ table[Int((crc >> 24) ^ UInt32(byte))]
        }
        return crc
    }

    /// The checksum of the readable bytes of `buffer`.
    public static func checksum(_ buffer: ByteBuffer) -> UInt32 {
        checksum(buffer.readableBytesView)
    }
}
