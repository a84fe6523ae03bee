import NIOCore

/// A throwing reader over a whole payload (an FLV tag body, a codec configuration record).
///
/// Streaming decoders return nil for "need more bytes"; whole-payload parsers use this type and
/// throw ``PayloadError/truncated(needed:available:)`` instead, so a short payload can never be
/// mistaken for a complete one.
public struct PayloadReader: Sendable {
    /// The bytes not read yet.
    public var buffer: ByteBuffer

    /// Wraps `buffer`; reading starts at its reader index.
    public init(_ buffer: ByteBuffer) { self.buffer = buffer }

    /// Bytes left to read.
    public var remaining: Int { buffer.readableBytes }

    /// Reads a fixed-width big-endian integer.
    public mutating func read<T: FixedWidthInteger>(_: T.Type = T.self) throws -> T {
        guard let value = buffer.readInteger(as: T.self) else {
            throw PayloadError.truncated(needed: MemoryLayout<T>.size, available: buffer.readableBytes)
        }
        return value
    }

    /// Reads a big-endian unsigned 24-bit integer.
    public mutating func readUInt24() throws -> UInt32 {
        guard let value = buffer.readUInt24() else {
            throw PayloadError.truncated(needed: 3, available: buffer.readableBytes)
        }
        return value
    }

    /// Reads a big-endian signed 24-bit integer.
    public mutating func readInt24() throws -> Int32 {
        guard let value = buffer.readInt24() else {
            throw PayloadError.truncated(needed: 3, available: buffer.readableBytes)
        }
        return value
    }

    /// Reads `length` bytes as a slice sharing storage with the payload (no copy).
    public mutating func readSlice(length: Int) throws -> ByteBuffer {
        guard length >= 0, let slice = buffer.readSlice(length: length) else {
            throw PayloadError.truncated(needed: length, available: buffer.readableBytes)
        }
        return slice
    }

    /// Reads everything left as a slice.
    public mutating func readRest() -> ByteBuffer {
        buffer.readSlice(length: buffer.readableBytes)!
    }
}

/// Errors of whole-payload parsing.
public enum PayloadError: Error, Equatable, Sendable {
    /// The payload ended early: `needed` more bytes were required, `available` were left.
    case truncated(needed: Int, available: Int)
}
