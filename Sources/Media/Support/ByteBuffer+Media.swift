import NIOCore

// Big-endian 24-bit integers appear in RTMP chunk headers and FLV tags.
//
//   +--------+--------+--------+
//   |  b23-16|  b15-8 |  b7-0  |
//   +--------+--------+--------+

extension ByteBuffer {
    /// Moves the reader index `count` bytes on when that many are readable; false (and no move) otherwise.
    public mutating func skip(_ count: Int) -> Bool {
        guard count >= 0, count <= readableBytes else { return false }
        moveReaderIndex(forwardBy: count)
        return true
    }

    /// Reads a big-endian unsigned 24-bit integer, or nil when fewer than 3 bytes are readable.
    @inlinable
    public mutating func readUInt24() -> UInt32? {
        guard let value = getUInt24(at: readerIndex) else { return nil }
        moveReaderIndex(forwardBy: 3)
        return value
    }

    /// Gets a big-endian unsigned 24-bit integer at `index` without moving the reader index.
    @inlinable
    public func getUInt24(at index: Int) -> UInt32? {
        guard let bytes = getBytes(at: index, length: 3) else { return nil }
        return UInt32(bytes[0]) << 16 | UInt32(bytes[1]) << 8 | UInt32(bytes[2])
    }

    /// Writes the low 24 bits of `value` big-endian.
    @inlinable
    @discardableResult
    public mutating func writeUInt24(_ value: UInt32) -> Int {
        writeInteger(UInt8(truncatingIfNeeded: value >> 16))
        writeInteger(UInt8(truncatingIfNeeded: value >> 8))
        writeInteger(UInt8(truncatingIfNeeded: value))
        return 3
    }

    /// Reads a signed big-endian 24-bit integer (two's complement), as used by FLV CompositionTime.
    @inlinable
    public mutating func readInt24() -> Int32? {
        guard let raw = readUInt24() else { return nil }
        return Int32(bitPattern: raw << 8) >> 8
    }
}
