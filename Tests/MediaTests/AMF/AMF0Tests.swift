import NIOCore
import Testing
@testable import Media

/// A deterministic SplitMix64 generator for the drip-feed and garbage tests of AMF/RTMP.
struct SeededGenerator: RandomNumberGenerator {
    private var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

@Suite struct AMF0Tests {
    static let golden: [(AMFValue, String)] = [
        (.number(1.5), "00 3ff8000000000000"),
        (.number(-0.0), "00 8000000000000000"),
        (.boolean(true), "01 01"),
        (.boolean(false), "01 00"),
        (.string("ab"), "02 0002 6162"),
        (.string(""), "02 0000"),
        (.object(pairs: ["a": .number(1)]), "03 0001 61 00 3ff0000000000000 000009"),
        (.object([]), "03 000009"),
        (.null, "05"),
        (.undefined, "06"),
        (.ecmaArray([AMFProperty(key: "x", value: .null)]), "08 00000001 0001 78 05 000009"),
        (.strictArray([.number(1), .string("a")]), "0a 00000002 00 3ff0000000000000 02 0001 61"),
        (.date(0), "0b 0000000000000000 0000"),
        (.typedObject(className: "C", properties: [AMFProperty(key: "b", value: .boolean(true))]), "10 0001 43 0001 62 01 01 000009"),
        (.xmlDocument("<a/>"), "0f 00000004 3c612f3e"),
        (.object(pairs: ["o": .object(pairs: ["n": .null])]), "03 0001 6f 03 0001 6e 05 000009 000009"),
    ]

    @Test(arguments: golden)
    func decodesAndEncodesGolden(value: AMFValue, hex: String) throws {
        let bytes = Hex.bytes(hex)
        #expect(try AMF0Decoder().decodeAll(ByteBuffer(bytes: bytes)) == [value])
        var encoded = ByteBuffer()
        AMF0Encoder().encode(value, into: &encoded)
        #expect(Array(encoded.readableBytesView) == bytes)
    }

    @Test(arguments: golden)
    func everyTruncationThrows(value: AMFValue, hex: String) {
        let bytes = Hex.bytes(hex)
        for length in 0..<bytes.count {
            var buffer = ByteBuffer(bytes: bytes[0..<length])
            #expect(throws: AMFError.self) { _ = try AMF0Decoder().decode(&buffer) }
        }
    }

    @Test func longStringRoundTrips() throws {
        let text = String(repeating: "x", count: 70_000)
        let encoded = AMF0Encoder().encode([.string(text)])
        #expect(Array(encoded.readableBytesView.prefix(5)) == [0x0C, 0x00, 0x01, 0x11, 0x70])
        #expect(try AMF0Decoder().decodeAll(encoded) == [.string(text)])
    }

    @Test func stringLongerThanPayloadIsTruncated() {
        var buffer = ByteBuffer(bytes: [0x02, 0xFF, 0xFF, 0x61])
        #expect(throws: AMFError.truncated(needed: 65535, available: 1)) { _ = try AMF0Decoder().decode(&buffer) }
        var long = ByteBuffer(bytes: [0x0C, 0xFF, 0xFF, 0xFF, 0xFF])
        #expect(throws: AMFError.truncated(needed: 0xFFFF_FFFF, available: 0)) { _ = try AMF0Decoder().decode(&long) }
    }

    @Test func hugeStrictArrayCountFailsOnTruncation() {
        var buffer = ByteBuffer(bytes: [0x0A, 0xFF, 0xFF, 0xFF, 0xFF, 0x05])
        #expect(throws: AMFError.self) { _ = try AMF0Decoder().decode(&buffer) }
    }

    @Test(arguments: [(16, true), (17, false)])
    func nestingIsLimited(depth: Int, accepted: Bool) throws {
        var value = AMFValue.null
        for _ in 0..<depth { value = .object(pairs: ["k": value]) }
        let encoded = AMF0Encoder().encode([value])
        if accepted {
            #expect(try AMF0Decoder(maximumDepth: 16).decodeAll(encoded) == [value])
        } else {
            #expect(throws: AMFError.depthExceeded(limit: 16)) { try AMF0Decoder(maximumDepth: 16).decodeAll(encoded) }
        }
        var arrays = AMFValue.null
        for _ in 0..<depth { arrays = .strictArray([arrays]) }
        let encodedArrays = AMF0Encoder().encode([arrays])
        #expect((try? AMF0Decoder(maximumDepth: 16).decodeAll(encodedArrays)) == (accepted ? [arrays] : nil))
    }

    @Test(arguments: [0x04, 0x07, 0x0E, 0x12, 0xFF] as [UInt8])
    func refusedMarkers(marker: UInt8) {
        var buffer = ByteBuffer(bytes: [marker, 0, 0, 0])
        #expect(throws: AMFError.self) { _ = try AMF0Decoder().decode(&buffer) }
        var end = ByteBuffer(bytes: [0x09])
        #expect(throws: AMFError.unexpectedObjectEnd) { _ = try AMF0Decoder().decode(&end) }
    }

    @Test func garbageEitherFailsWithAnAMFErrorOrRoundTrips() {
        var random = SeededGenerator(seed: 42)
        var decoded = 0
        for _ in 0..<2000 {
            let length = Int.random(in: 0...48, using: &random)
            var bytes = (0..<length).map { _ in UInt8.random(in: 0...0x12, using: &random) }
            if !bytes.isEmpty, Bool.random(using: &random) { bytes[0] = 0x03 }
            do {
                let values = try AMF0Decoder(maximumDepth: 4).decodeAll(ByteBuffer(bytes: bytes))
                decoded += 1
                // Whatever was accepted means the same once written out again.
                #expect(try AMF0Decoder(maximumDepth: 4).decodeAll(AMF0Encoder().encode(values)) == values, "\(bytes)")
            } catch {
                #expect(error is AMFError || error is PayloadError, "\(bytes): \(error)")
            }
        }
        #expect(decoded > 0, "some of the garbage must be valid AMF0, or the round trip was never tried")
    }

    @Test func lookupHelpers() {
        let value = AMFValue.object(pairs: ["app": .string("live"), "n": .number(3)])
        #expect(value["app"]?.stringValue == "live")
        #expect(value["n"]?.numberValue == 3)
        #expect(value["missing"] == nil)
        #expect(AMFValue.string("x")["app"] == nil)
        #expect(AMFValue.ecmaArray([AMFProperty(key: "w", value: .number(1))])["w"] == .number(1))
    }
}
