import NIOCore

/// A value of Action Message Format, as carried in RTMP commands and data messages.
///
/// AMF0 is the native shape; AMF3 values decode into the same enum (AMF3 integers become
/// ``number(_:)``, AMF3 arrays with only a dense part become ``strictArray(_:)``, with an
/// associative part ``ecmaArray(_:)`` whose dense entries are keyed "0", "1", …).
public enum AMFValue: Sendable, Equatable {
    /// An IEEE-754 double (AMF0 marker 0x00; AMF3 integer and double).
    case number(Double)
    /// A boolean (AMF0 marker 0x01; AMF3 false/true).
    case boolean(Bool)
    /// A UTF-8 string (AMF0 string 0x02 or long string 0x0C; AMF3 string).
    case string(String)
    /// An anonymous object: ordered key/value pairs (AMF0 marker 0x03; AMF3 anonymous object).
    case object([AMFProperty])
    /// null (AMF0 marker 0x05; AMF3 null).
    case null
    /// undefined (AMF0 marker 0x06; AMF3 undefined).
    case undefined
    /// An associative array (AMF0 ECMA array 0x08; AMF3 array with associative entries).
    case ecmaArray([AMFProperty])
    /// A dense array (AMF0 strict array 0x0A; AMF3 dense array).
    case strictArray([AMFValue])
    /// Milliseconds since the Unix epoch, UTC (AMF0 date 0x0B; AMF3 date).
    case date(Double)
    /// An XML document as text (AMF0 0x0F; AMF3 XMLDocument and XML).
    case xmlDocument(String)
    /// An object of a registered class (AMF0 typed object 0x10; AMF3 object with a class name).
    case typedObject(className: String, properties: [AMFProperty])
    /// Raw bytes (AMF3 ByteArray only; the AMF0 encoder writes it as null).
    case byteArray([UInt8])
    /// The AMF0 "unsupported" marker (0x0D).
    case unsupported

    /// The value of the first property named `key` of an object, typed object or ECMA array;
    /// nil for other values or when absent.
    public subscript(key: String) -> AMFValue? {
        switch self {
        case .object(let properties), .ecmaArray(let properties), .typedObject(_, let properties):
            properties.first(where: { $0.key == key })?.value
        default:
            nil
        }
    }

    /// The string, when this is a string.
    public var stringValue: String? {
        if case .string(let value) = self { value } else { nil }
    }

    /// The number, when this is a number.
    public var numberValue: Double? {
        if case .number(let value) = self { value } else { nil }
    }

    /// The boolean, when this is a boolean.
    public var booleanValue: Bool? {
        if case .boolean(let value) = self { value } else { nil }
    }

    /// The properties of an object, typed object or ECMA array.
    public var properties: [AMFProperty]? {
        switch self {
        case .object(let properties), .ecmaArray(let properties), .typedObject(_, let properties): properties
        default: nil
        }
    }
}

/// One key/value pair of an AMF object or ECMA array; order is kept as on the wire.
public struct AMFProperty: Sendable, Equatable {
    /// The property name.
    public var key: String
    /// The property value.
    public var value: AMFValue

    /// Creates a property.
    public init(key: String, value: AMFValue) {
        self.key = key
        self.value = value
    }
}

extension AMFValue {
    /// Builds an object from ordered pairs: `.object(pairs: ["level": .string("status")])`.
    public static func object(pairs: KeyValuePairs<String, AMFValue>) -> AMFValue {
        .object(pairs.map { AMFProperty(key: $0.key, value: $0.value) })
    }
}

/// Errors of AMF decoding. Every case names the offending value and, where there is one, the limit.
public enum AMFError: Error, Equatable, Sendable {
    /// The payload ended early: `needed` more bytes were required, `available` were left.
    case truncated(needed: Int, available: Int)
    /// Objects/arrays nest deeper than the decoder's limit.
    case depthExceeded(limit: Int)
    /// A type marker that AMF does not define.
    case unknownMarker(UInt8)
    /// A defined marker onair refuses (AMF0 movieclip/recordset/reference, AMF3 vectors,
    /// dictionaries, externalizable objects).
    case unsupportedMarker(UInt8)
    /// An AMF3 reference to a table entry that does not exist.
    case invalidReference(index: Int, count: Int)
    /// An object-end marker where a value was expected.
    case unexpectedObjectEnd
}
