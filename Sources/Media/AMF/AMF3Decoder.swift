import NIOCore

// AMF3, Adobe "Action Message Format -- AMF 3" (2013), §1.3.1 U29, §3 type markers.
//
//   U29: 1–4 bytes; bytes 1–3 carry 7 bits each with the high bit as "more", byte 4 carries 8 bits
//     0xxxxxxx | 1xxxxxxx 0xxxxxxx | 1xxxxxxx 1xxxxxxx 0xxxxxxx | 1xxxxxxx 1xxxxxxx 1xxxxxxx xxxxxxxx
//   undefined 00, null 01, false 02, true 03
//   integer 04 | U29 (29-bit signed)      double 05 | f64 BE
//   string 06 | U29S (len<<1|1 inline, idx<<1 reference) | UTF-8
//   XMLDoc 07 / XML 0B | U29X | UTF-8     date 08 | U29D (1) | f64 ms
//   array 09 | U29A (dense<<1|1) | (key, value)* "" | dense value*
//   object 0A | U29O traits | class name | sealed names | sealed values | (key, value)* ""
//   ByteArray 0C | U29B (len<<1|1) | bytes
//
// Strings, complex objects and traits each have a reference table, fresh for every decoder.

/// Decodes AMF3 values into ``AMFValue`` with a nesting limit and bounded reference tables.
///
/// Vectors, dictionaries and externalizable objects are refused with
/// ``AMFError/unsupportedMarker(_:)``; nothing traps on hostile input.
public struct AMF3Decoder: Sendable {
    /// The deepest nesting of arrays/objects accepted (a top-level object is depth 1).
    public var maximumDepth: Int
    private var strings: [String] = []
    private var objects: [AMFValue] = []
    private var traits: [Traits] = []

    private struct Traits: Sendable {
        var className: String
        var dynamic: Bool
        var sealedNames: [String]
    }

    /// Creates a decoder with empty reference tables.
    public init(maximumDepth: Int = 16) {
        self.maximumDepth = maximumDepth
    }

    /// Reads one value from `buffer`, moving its reader index past it.
    public mutating func decode(_ buffer: inout ByteBuffer) throws -> AMFValue {
        try decode(&buffer, depth: 0)
    }

    mutating func decode(_ buffer: inout ByteBuffer, depth: Int) throws -> AMFValue {
        let marker: UInt8 = try AMF0Decoder.read(&buffer)
        switch marker {
        case 0x00: return .undefined
        case 0x01: return .null
        case 0x02: return .boolean(false)
        case 0x03: return .boolean(true)
        case 0x04:
            let raw = try Self.readU29(&buffer)
            // Sign-extend the 29-bit two's complement integer.
            return .number(Double(Int32(bitPattern: raw << 3) >> 3))
        case 0x05:
            return .number(Double(bitPattern: try AMF0Decoder.read(&buffer)))
        case 0x06:
            return .string(try string(&buffer))
        case 0x07, 0x0B:
            return try referencedOr(&buffer) { header, buffer, _ in
                .xmlDocument(try AMF0Decoder.string(&buffer, length: Int(header >> 1)))
            }
        case 0x08:
            return try referencedOr(&buffer) { _, buffer, _ in
                .date(Double(bitPattern: try AMF0Decoder.read(&buffer)))
            }
        case 0x09:
            return try referencedOr(&buffer) { header, buffer, decoder in
                try decoder.array(&buffer, denseCount: Int(header >> 1), depth: depth + 1)
            }
        case 0x0A:
            return try referencedOr(&buffer) { header, buffer, decoder in
                try decoder.object(&buffer, header: header, depth: depth + 1)
            }
        case 0x0C:
            return try referencedOr(&buffer) { header, buffer, _ in
                let length = Int(header >> 1)
                guard let bytes = buffer.readBytes(length: length) else {
                    throw AMFError.truncated(needed: length, available: buffer.readableBytes)
                }
                return .byteArray(bytes)
            }
        case 0x0D, 0x0E, 0x0F, 0x10, 0x11:
            throw AMFError.unsupportedMarker(marker)  // vectors and dictionary
        default:
            throw AMFError.unknownMarker(marker)
        }
    }

    /// Reads a U29: 1–4 bytes, at most 29 significant bits.
    static func readU29(_ buffer: inout ByteBuffer) throws -> UInt32 {
        var value: UInt32 = 0
        for index in 0..<4 {
            let byte: UInt8 = try AMF0Decoder.read(&buffer)
            if index == 3 { return value << 8 | UInt32(byte) }
            value = value << 7 | UInt32(byte & 0x7F)
            if byte & 0x80 == 0 { break }
        }
        return value
    }

    /// Reads a U29S-prefixed string, inline or from the string table. Empty strings are never tabled.
    private mutating func string(_ buffer: inout ByteBuffer) throws -> String {
        let header = try Self.readU29(&buffer)
        guard header & 1 == 1 else { return try lookup(strings, Int(header >> 1)) }
        let string = try AMF0Decoder.string(&buffer, length: Int(header >> 1))
        if !string.isEmpty { strings.append(string) }
        return string
    }

    /// Reads the U29 header of a complex value: a reference into the object table, or an inline
    /// value whose table slot is reserved before decoding (a self-reference then reads null).
    private mutating func referencedOr(
        _ buffer: inout ByteBuffer,
        inline: (UInt32, inout ByteBuffer, inout AMF3Decoder) throws -> AMFValue
    ) throws -> AMFValue {
        let header = try Self.readU29(&buffer)
        guard header & 1 == 1 else { return try lookup(objects, Int(header >> 1)) }
        let slot = objects.count
        objects.append(.null)
        let value = try inline(header, &buffer, &self)
        objects[slot] = value
        return value
    }

    private mutating func array(_ buffer: inout ByteBuffer, denseCount: Int, depth: Int) throws -> AMFValue {
        try checkDepth(depth)
        var associative: [AMFProperty] = []
        while true {
            let key = try string(&buffer)
            if key.isEmpty { break }
            associative.append(AMFProperty(key: key, value: try decode(&buffer, depth: depth)))
        }
        var dense: [AMFValue] = []
        for _ in 0..<denseCount {
            // Every element takes at least one byte, so a huge count fails on truncation, not memory.
            dense.append(try decode(&buffer, depth: depth))
        }
        if associative.isEmpty { return .strictArray(dense) }
        let indexed = dense.enumerated().map { AMFProperty(key: String($0.offset), value: $0.element) }
        return .ecmaArray(indexed + associative)
    }

    private mutating func object(_ buffer: inout ByteBuffer, header: UInt32, depth: Int) throws -> AMFValue {
        try checkDepth(depth)
        let traits: Traits
        if header & 0b10 == 0 {
            traits = try lookup(self.traits, Int(header >> 2))
        } else {
            guard header & 0b100 == 0 else { throw AMFError.unsupportedMarker(0x0A) }  // externalizable
            let className = try string(&buffer)
            var names: [String] = []
            for _ in 0..<Int(header >> 4) { names.append(try string(&buffer)) }
            traits = Traits(className: className, dynamic: header & 0b1000 != 0, sealedNames: names)
            self.traits.append(traits)
        }
        var properties: [AMFProperty] = []
        for name in traits.sealedNames {
            properties.append(AMFProperty(key: name, value: try decode(&buffer, depth: depth)))
        }
        if traits.dynamic {
            while true {
                let key = try string(&buffer)
                if key.isEmpty { break }
                properties.append(AMFProperty(key: key, value: try decode(&buffer, depth: depth)))
            }
        }
        if traits.className.isEmpty { return .object(properties) }
        return .typedObject(className: traits.className, properties: properties)
    }

    private func lookup<T>(_ table: [T], _ index: Int) throws -> T {
        guard index < table.count else { throw AMFError.invalidReference(index: index, count: table.count) }
        return table[index]
    }

    private func checkDepth(_ depth: Int) throws {
        guard depth <= maximumDepth else { throw AMFError.depthExceeded(limit: maximumDepth) }
    }
}
