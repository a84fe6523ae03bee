import NIOCore

// AMF0 encoding, Adobe "Action Message Format -- AMF 0" (2006), §2.
//
//   string:  02 | u16 len | UTF-8        (≤ 65535 bytes)
//            0C | u32 len | UTF-8        (longer: long string, §2.14)
//   object:  03 | (u16 len key, value)* | 00 00 09
//   ECMA:    08 | u32 count | (key, value)* | 00 00 09

/// Encodes ``AMFValue``s as AMF0.
///
/// Values that AMF0 cannot express (``AMFValue/byteArray(_:)``) are written as null.
public struct AMF0Encoder: Sendable {
    /// Creates an encoder.
    public init() {}

    /// Appends `value` to `buffer`.
    public func encode(_ value: AMFValue, into buffer: inout ByteBuffer) {
        switch value {
        case .number(let number):
            buffer.writeInteger(UInt8(0x00))
            buffer.writeInteger(number.bitPattern)
        case .boolean(let flag):
            buffer.writeInteger(UInt8(0x01))
            buffer.writeInteger(UInt8(flag ? 1 : 0))
        case .string(let string):
            let length = string.utf8.count
            if length <= Int(UInt16.max) {
                buffer.writeInteger(UInt8(0x02))
                buffer.writeInteger(UInt16(length))
            } else {
                buffer.writeInteger(UInt8(0x0C))
                buffer.writeInteger(UInt32(truncatingIfNeeded: length))
            }
            buffer.writeString(string)
        case .object(let properties):
            buffer.writeInteger(UInt8(0x03))
            encode(properties, into: &buffer)
        case .null, .byteArray:
            buffer.writeInteger(UInt8(0x05))
        case .undefined:
            buffer.writeInteger(UInt8(0x06))
        case .ecmaArray(let properties):
            buffer.writeInteger(UInt8(0x08))
            buffer.writeInteger(UInt32(truncatingIfNeeded: properties.count))
            encode(properties, into: &buffer)
        case .strictArray(let elements):
            buffer.writeInteger(UInt8(0x0A))
            buffer.writeInteger(UInt32(truncatingIfNeeded: elements.count))
            for element in elements { encode(element, into: &buffer) }
        case .date(let milliseconds):
            buffer.writeInteger(UInt8(0x0B))
            buffer.writeInteger(milliseconds.bitPattern)
            buffer.writeInteger(Int16(0))
        case .xmlDocument(let text):
            buffer.writeInteger(UInt8(0x0F))
            buffer.writeInteger(UInt32(truncatingIfNeeded: text.utf8.count))
            buffer.writeString(text)
        case .typedObject(let className, let properties):
            buffer.writeInteger(UInt8(0x10))
            writeKey(className, into: &buffer)
            encode(properties, into: &buffer)
        case .unsupported:
            buffer.writeInteger(UInt8(0x0D))
        }
    }

    /// Encodes `values` one after another into a new buffer (the body of a command message).
    public func encode(_ values: [AMFValue]) -> ByteBuffer {
        var buffer = ByteBuffer()
        for value in values { encode(value, into: &buffer) }
        return buffer
    }

    private func encode(_ properties: [AMFProperty], into buffer: inout ByteBuffer) {
        for property in properties {
            writeKey(property.key, into: &buffer)
            encode(property.value, into: &buffer)
        }
        buffer.writeBytes([0x00, 0x00, 0x09])
    }

    /// Writes a u16-prefixed key; keys longer than 65535 bytes are cut (no encoder sends them).
    private func writeKey(_ key: String, into buffer: inout ByteBuffer) {
        let bytes = Array(key.utf8.prefix(Int(UInt16.max)))
        buffer.writeInteger(UInt16(bytes.count))
        buffer.writeBytes(bytes)
    }
}
