import NIOCore

/// A most-significant-bit-first reader over a payload, with Exp-Golomb codes (ITU-T H.264 §9.1).
public struct BitReader: Sendable {
    private let bytes: [UInt8]
    private var bitIndex = 0

    /// Reads the readable bytes of `buffer`.
    public init(_ buffer: ByteBuffer) { bytes = Array(buffer.readableBytesView) }

    /// Bits left.
    public var remainingBits: Int { bytes.count * 8 - bitIndex }

    /// Reads `count` (0...64) bits as an unsigned number.
    public mutating func read(_ count: Int) throws -> UInt64 {
        precondition((0...64).contains(count))
        guard count <= remainingBits else { throw PayloadError.truncated(needed: (count + 7) / 8, available: remainingBits / 8) }
        var value: UInt64 = 0
        for _ in 0..<count {
            let bit = (bytes[bitIndex >> 3] >> (7 - UInt8(bitIndex & 7))) & 1
            value = value << 1 | UInt64(bit)
            bitIndex += 1
        }
        return value
    }

    /// Reads one bit as a Bool.
    public mutating func readFlag() throws -> Bool { try read(1) == 1 }

    /// Skips `count` bits.
    public mutating func skip(_ count: Int) throws { _ = try read(count) }

    /// Reads an unsigned Exp-Golomb code ue(v); at most 31 leading zeros.
    public mutating func readUE() throws -> UInt32 {
        var zeros = 0
        while try read(1) == 0 {
            zeros += 1
            guard zeros <= 31 else { throw BitReaderError.expGolombTooLong }
        }
        return UInt32(truncatingIfNeeded: (UInt64(1) << zeros) - 1 + (try read(zeros)))
    }

    /// Reads a signed Exp-Golomb code se(v).
    public mutating func readSE() throws -> Int32 {
        let code = Int64(try readUE())
        return Int32(truncatingIfNeeded: code & 1 == 1 ? (code + 1) / 2 : -(code / 2))
    }
}

/// Errors of bit-level parsing.
public enum BitReaderError: Error, Equatable, Sendable {
    /// An Exp-Golomb code with more than 31 leading zero bits.
    case expGolombTooLong
}
