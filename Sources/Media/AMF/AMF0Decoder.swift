import NIOCore

// AMF0, Adobe "Action Message Format -- AMF 0" (2006), §2 Type markers.
//
//   number  00 | f64 BE            string      02 | u16 len | UTF-8
//   boolean 01 | u8                long string 0C | u32 len | UTF-8
//   object  03 | (u16 len key, value)* | 00 00 09
//   null 05, undefined 06, unsupported 0D
//   ECMA array 08 | u32 count (advisory) | (key, value)* | 00 00 09
//   strict array 0A | u32 count | value*
//   date 0B | f64 ms | s16 timezone (ignored)
//   XML document 0F | u32 len | UTF-8
//   typed object 10 | u16 len class name | (key, value)* | 00 00 09
//   avmplus 11 | one AMF3 value (§3.1)

/// Decodes AMF0 values from a whole payload, with a nesting limit.
///
/// Throws ``AMFError`` on truncated or garbage input; never traps.
public struct AMF0Decoder: Sendable {
    /// The deepest nesting of objects/arrays accepted (a top-level object is depth 1).
    public var maximumDepth: Int

    /// Creates a decoder; 16 levels is far beyond what any encoder sends in commands or metadata.
    public init(maximumDepth: Int = 16) {
        self.maximumDepth = maximumDepth
    }

    /// Reads one value from `buffer`, moving its reader index past it.
    /// On error the reader index is unspecified.
    public func decode(_ buffer: inout ByteBuffer) throws -> AMFValue {
        try value(&buffer, depth: 0)
    }

    /// Reads values until `buffer` is exhausted.
    public func decodeAll(_ buffer: ByteBuffer) throws -> [AMFValue] {
        var buffer = buffer
        var values: [AMFValue] = []
        while buffer.readableBytes > 0 {
            values.append(try value(&buffer, depth: 0))
        }
        return values
    }

    private func value(_ buffer: inout ByteBuffer, depth: Int) throws -> AMFValue {
        let marker: UInt8 = try Self.read(&buffer)
        switch marker {
        case 0x00:
            return .number(Double(bitPattern: try Self.read(&buffer)))
        case 0x01:
            return .boolean(try Self.read(&buffer) as UInt8 != 0)
        case 0x02:
            return .string(try Self.string(&buffer, length: Int(try Self.read(&buffer) as UInt16)))
        case 0x03:
            return .object(try properties(&buffer, depth: depth + 1))
        case 0x05:
            return .null
        case 0x06:
            return .undefined
        case 0x08:
            _ = try Self.read(&buffer) as UInt32  // advisory count; encoders get it wrong, read to the end marker
            return .ecmaArray(try properties(&buffer, depth: depth + 1))
        case 0x09:
            throw AMFError.unexpectedObjectEnd
        case 0x0A:
            let count = Int(try Self.read(&buffer) as UInt32)
            try checkDepth(depth + 1)
            var elements: [AMFValue] = []
            for _ in 0..<count {
                // Every element takes at least one byte, so a huge count fails on truncation, not memory.
                elements.append(try value(&buffer, depth: depth + 1))
            }
            return .strictArray(elements)
        case 0x0B:
            let milliseconds = Double(bitPattern: try Self.read(&buffer))
            _ = try Self.read(&buffer) as Int16
            return .date(milliseconds)
        case 0x0C:
            return .string(try Self.string(&buffer, length: Int(try Self.read(&buffer) as UInt32)))
        case 0x0D:
            return .unsupported
        case 0x0F:
            return .xmlDocument(try Self.string(&buffer, length: Int(try Self.read(&buffer) as UInt32)))
        case 0x10:
            let className = try Self.string(&buffer, length: Int(try Self.read(&buffer) as UInt16))
            return .typedObject(className: className, properties: try properties(&buffer, depth: depth + 1))
        case 0x11:
            var amf3 = AMF3Decoder(maximumDepth: maximumDepth)
            return try amf3.decode(&buffer, depth: depth)
        case 0x04, 0x07, 0x0E:
            throw AMFError.unsupportedMarker(marker)  // movieclip, reference, recordset
        default:
            throw AMFError.unknownMarker(marker)
        }
    }

    /// Reads `(key, value)*` up to and including the `00 00 09` end marker.
    private func properties(_ buffer: inout ByteBuffer, depth: Int) throws -> [AMFProperty] {
        try checkDepth(depth)
        var properties: [AMFProperty] = []
        while true {
            let key = try Self.string(&buffer, length: Int(try Self.read(&buffer) as UInt16))
            if key.isEmpty, buffer.getInteger(at: buffer.readerIndex, as: UInt8.self) == 0x09 {
                buffer.moveReaderIndex(forwardBy: 1)
                return properties
            }
            properties.append(AMFProperty(key: key, value: try value(&buffer, depth: depth)))
        }
    }

    private func checkDepth(_ depth: Int) throws {
        guard depth <= maximumDepth else { throw AMFError.depthExceeded(limit: maximumDepth) }
    }

    static func read<T: FixedWidthInteger>(_ buffer: inout ByteBuffer, as: T.Type = T.self) throws -> T {
        guard let value = buffer.readInteger(as: T.self) else {
            throw AMFError.truncated(needed: MemoryLayout<T>.size, available: buffer.readableBytes)
        }
        return value
    }

    static func string(_ buffer: inout ByteBuffer, length: Int) throws -> String {
        guard length <= buffer.readableBytes else {
            throw AMFError.truncated(needed: length, available: buffer.readableBytes)
        }
        // Invalid UTF-8 is repaired (U+FFFD), not refused: names are compared, never executed.
        return buffer.readString(length: length) ?? String(decoding: buffer.readBytes(length: length) ?? [], as: UTF8.self)
    }
}
