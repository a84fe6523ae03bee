import NIOCore
import Testing
@testable import Media

@Suite struct AMF3DecoderTests {
    static let golden: [(String, AMFValue)] = [
        ("00", .undefined),
        ("01", .null),
        ("02", .boolean(false)),
        ("03", .boolean(true)),
        ("04 00", .number(0)),
        ("04 7f", .number(127)),
        ("04 81 00", .number(128)),
        ("04 81 80 00", .number(16384)),
        ("04 80 c0 80 00", .number(2_097_152)),  // 4-byte U29: the last byte carries 8 bits
        ("04 bf ff ff ff", .number(268_435_455)),  // largest positive 29-bit integer
        ("04 ff ff ff ff", .number(-1)),  // 29-bit two's complement
        ("04 c0 80 80 00", .number(-268_435_456)),
        ("05 3ff8000000000000", .number(1.5)),
        ("06 05 6162", .string("ab")),
        ("06 01", .string("")),
        ("09 05 01 06 05 6162 06 00", .strictArray([.string("ab"), .string("ab")])),  // second "ab" by reference
        ("09 03 03 6b 04 01 01 04 02",
         .ecmaArray([AMFProperty(key: "0", value: .number(2)), AMFProperty(key: "k", value: .number(1))])),
        ("0a 0b 01 03 61 04 05 01", .object(pairs: ["a": .number(5)])),  // anonymous dynamic object
        ("0a 13 03 43 03 78 04 01", .typedObject(className: "C", properties: [AMFProperty(key: "x", value: .number(1))])),  // sealed
        ("08 01 0000000000000000", .date(0)),
        ("0c 07 010203", .byteArray([1, 2, 3])),
        ("09 05 01 0a 0b 01 03 61 03 01 0a 02", .strictArray([.object(pairs: ["a": .boolean(true)]), .object(pairs: ["a": .boolean(true)])])),  // object reference (index 0 is the array itself)
    ]

    @Test(arguments: golden)
    func decodesGolden(hex: String, value: AMFValue) throws {
        var buffer = ByteBuffer(bytes: Hex.bytes(hex))
        var decoder = AMF3Decoder()
        #expect(try decoder.decode(&buffer) == value)
        #expect(buffer.readableBytes == 0)
        // The same value behind the AMF0 avmplus switch marker.
        #expect(try AMF0Decoder().decodeAll(ByteBuffer(bytes: [0x11] + Hex.bytes(hex))) == [value])
    }

    @Test(arguments: golden)
    func everyTruncationThrows(hex: String, value: AMFValue) {
        let bytes = Hex.bytes(hex)
        for length in 0..<bytes.count {
            var buffer = ByteBuffer(bytes: bytes[0..<length])
            var decoder = AMF3Decoder()
            #expect(throws: AMFError.self) { _ = try decoder.decode(&buffer) }
        }
    }

    @Test(arguments: [
        ("06 02", AMFError.invalidReference(index: 1, count: 0)),  // string reference into an empty table
        ("0a 00", AMFError.invalidReference(index: 0, count: 0)),  // object reference (index 0 is the array itself)
        ("0a 01", AMFError.invalidReference(index: 0, count: 0)),  // traits reference (slot 0 is the object itself)
        ("0a 07 01", AMFError.unsupportedMarker(0x0A)),  // externalizable
        ("0d 01", AMFError.unsupportedMarker(0x0D)),  // vector
        ("11 01", AMFError.unsupportedMarker(0x11)),  // dictionary
        ("20", AMFError.unknownMarker(0x20)),
        ("06 ff ff ff ff", AMFError.truncated(needed: 0x0FFF_FFFF, available: 0)),
    ])
    func refusesBadInput(hex: String, error: AMFError) {
        var buffer = ByteBuffer(bytes: Hex.bytes(hex))
        var decoder = AMF3Decoder()
        #expect(throws: error) { _ = try decoder.decode(&buffer) }
    }

    @Test func nestingIsLimited() {
        // 17 nested dense arrays of one element each.
        let deep: [UInt8] = (0..<17).flatMap { _ -> [UInt8] in [0x09, 0x03, 0x01] } + [0x01]
        var buffer = ByteBuffer(bytes: deep)
        var decoder = AMF3Decoder(maximumDepth: 16)
        #expect(throws: AMFError.depthExceeded(limit: 16)) { _ = try decoder.decode(&buffer) }
        var shallow = ByteBuffer(bytes: Array(deep.dropFirst(3)))
        var accepting = AMF3Decoder(maximumDepth: 16)
        #expect(throws: Never.self) { _ = try accepting.decode(&shallow) }
    }

    @Test func garbageNeverTraps() {
        var random = SeededGenerator(seed: 7)
        for _ in 0..<2000 {
            let length = Int.random(in: 0...40, using: &random)
            var buffer = ByteBuffer(bytes: (0..<length).map { _ in UInt8.random(in: 0...0x0C, using: &random) })
            var decoder = AMF3Decoder(maximumDepth: 4)
            _ = try? decoder.decode(&buffer)
        }
    }
}
