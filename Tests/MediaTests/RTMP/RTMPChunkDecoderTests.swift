import NIOCore
import Testing
@testable import Media

/// A decoded message as a comparable tuple-like value: (type, message stream, timestamp, payload hex).
struct DecodedMessage: Equatable, Sendable, CustomStringConvertible {
    var type: UInt8, stream: UInt32, timestamp: UInt32, payload: String
    init(_ type: UInt8, _ stream: UInt32, _ timestamp: UInt32, _ payload: String) {
        (self.type, self.stream, self.timestamp, self.payload) = (type, stream, timestamp, payload)
    }
    init(_ message: RTMPMessage) {
        self.init(message.type.rawValue, message.messageStreamID, message.timestamp, Hex.string(message.payload.readableBytesView))
    }
    var description: String { "(\(type), \(stream), \(timestamp), \(payload))" }
}

/// Feeds `bytes` to a chunk decoder in pieces of the given lengths (the rest at the end).
func decodeChunks(_ bytes: [UInt8], pieces: [Int] = [], configuration: RTMPConfiguration = .init()) throws -> [DecodedMessage] {
    var decoder = RTMPChunkDecoder(configuration: configuration)
    var buffer = ByteBuffer()
    var messages: [DecodedMessage] = []
    var offset = 0
    for length in pieces + [bytes.count] {
        let end = min(bytes.count, offset + length)
        buffer.writeBytes(bytes[offset..<end])
        offset = end
        while let message = try decoder.decode(&buffer) { messages.append(DecodedMessage(message)) }
    }
    return messages
}

@Suite struct RTMPChunkDecoderTests {
    static let golden: [(String, String, [DecodedMessage])] = [
        ("type 0, 1-byte basic header", "03 000001 000002 14 01000000 aabb", [DecodedMessage(20, 1, 1, "aabb")]),
        ("2-byte basic header (csid 64)", "00 00 000005 000001 08 01000000 ff", [DecodedMessage(8, 1, 5, "ff")]),
        ("2-byte basic header (csid 319)", "00 ff 000005 000001 08 01000000 ff", [DecodedMessage(8, 1, 5, "ff")]),
        ("3-byte basic header (csid 320)", "01 0001 000005 000001 08 01000000 ff", [DecodedMessage(8, 1, 5, "ff")]),
        ("3-byte basic header (csid 65599)", "01 ffff 000005 000001 08 01000000 ff 41 ffff 000003 000001 08 ee",
         [DecodedMessage(8, 1, 5, "ff"), DecodedMessage(8, 1, 8, "ee")]),
        ("type 1 delta", "04 000010 000001 09 01000000 01 44 000005 000002 08 0203",
         [DecodedMessage(9, 1, 16, "01"), DecodedMessage(8, 1, 21, "0203")]),
        ("type 2 delta", "04 000010 000001 09 01000000 01 44 000005 000001 09 02 84 000007 03",
         [DecodedMessage(9, 1, 16, "01"), DecodedMessage(9, 1, 21, "02"), DecodedMessage(9, 1, 28, "03")]),
        ("type 3 new message reuses the delta", "04 000010 000001 09 01000000 01 84 000007 02 c4 03",
         [DecodedMessage(9, 1, 16, "01"), DecodedMessage(9, 1, 23, "02"), DecodedMessage(9, 1, 30, "03")]),
        ("extended timestamp on type 0", "04 ffffff 000001 09 01000000 01000000 aa", [DecodedMessage(9, 1, 0x0100_0000, "aa")]),
        ("timestamp just below the extended range", "04 fffffe 000001 09 01000000 aa", [DecodedMessage(9, 1, 0xFF_FFFE, "aa")]),
        ("extended timestamp equal to 0xFFFFFF", "04 ffffff 000001 09 01000000 00ffffff aa", [DecodedMessage(9, 1, 0xFF_FFFF, "aa")]),
        ("extended delta on type 1 wraps past 2^32", "04 ffffff 000001 09 01000000 fffffff0 aa 44 000020 000001 09 bb",
         [DecodedMessage(9, 1, 0xFFFF_FFF0, "aa"), DecodedMessage(9, 1, 0x10, "bb")]),
        ("extended timestamp repeated on type 3 new message", "04 ffffff 000001 09 01000000 01000000 aa c4 01000000 bb",
         [DecodedMessage(9, 1, 0x0100_0000, "aa"), DecodedMessage(9, 1, 0x0200_0000, "bb")]),
        ("zero-length message", "03 000000 000000 14 00000000", [DecodedMessage(20, 0, 0, "")]),
        ("interleaved chunk streams", "02 000000 000004 01 00000000 00000001 04 000000 000002 09 01000000 11 05 000000 000001 08 01000000 aa c4 22",
         [DecodedMessage(1, 0, 0, "00000001"), DecodedMessage(8, 1, 0, "aa"), DecodedMessage(9, 1, 0, "1122")]),
    ]

    @Test(arguments: golden)
    func decodesGolden(name: String, hex: String, expected: [DecodedMessage]) throws {
        let bytes = Hex.bytes(hex)
        #expect(try decodeChunks(bytes) == expected, "\(name)")
        // One byte at a time.
        #expect(try decodeChunks(bytes, pieces: Array(repeating: 1, count: bytes.count)) == expected, "\(name) drip-fed")
        // Every truncation: fewer messages, never an error.
        for length in 0..<bytes.count {
            let partial = try decodeChunks(Array(bytes[0..<length]))
            #expect(partial.count <= expected.count && Array(expected.prefix(partial.count)) == partial)
        }
    }

    /// A 300-byte video message at chunk size 128 with an extended timestamp, continuation headers as given.
    static func extendedMessage(repeatOnContinuation: Bool) -> [UInt8] {
        let payload = (0..<300).map { UInt8(truncatingIfNeeded: $0) }
        var bytes = Hex.bytes("06 ffffff 00012c 09 01000000 01234567")
        for start in stride(from: 0, to: 300, by: 128) {
            if start > 0 { bytes += [0xC6] + (repeatOnContinuation ? [0x01, 0x23, 0x45, 0x67] : []) }
            bytes += payload[start..<min(start + 128, 300)]
        }
        return bytes
    }

    @Test(arguments: [true, false])
    func extendedTimestampOnContinuationChunks(repeated: Bool) throws {
        let messages = try decodeChunks(Self.extendedMessage(repeatOnContinuation: repeated))
        let payload = Hex.string((0..<300).map { UInt8(truncatingIfNeeded: $0) })
        #expect(messages == [DecodedMessage(9, 1, 0x0123_4567, payload)])
    }

    @Test func setChunkSizeAppliesToFollowingChunks() throws {
        let payload = [UInt8](repeating: 0x5A, count: 200)
        let bytes = Hex.bytes("02 000000 000004 01 00000000 000000c8 04 000000 0000c8 09 01000000") + payload
        let messages = try decodeChunks(bytes)
        #expect(messages == [DecodedMessage(1, 0, 0, "000000c8"), DecodedMessage(9, 1, 0, Hex.string(payload))])
    }

    @Test func randomSplitsGiveTheSameMessages() throws {
        let bytes = Self.extendedMessage(repeatOnContinuation: true)
            + Hex.bytes("05 000010 000001 08 01000000 01 45 000005 000002 08 0203 85 000007 0304 c5 0506")
            + Self.extendedMessage(repeatOnContinuation: false)
        let whole = try decodeChunks(bytes)
        #expect(whole.count == 6)
        var random = SeededGenerator(seed: 2024)
        for _ in 0..<50 {
            let pieces = (0..<40).map { _ in Int.random(in: 0...17, using: &random) }
            #expect(try decodeChunks(bytes, pieces: pieces) == whole)
        }
    }

    @Test func abortDropsThePartialMessage() throws {
        let partial = Hex.bytes("04 000000 0000c8 09 01000000") + [UInt8](repeating: 1, count: 128)
        let abort = Hex.bytes("02 000000 000004 02 00000000 00000004")
        let fresh = Hex.bytes("04 000009 000001 09 01000000 77")
        #expect(try decodeChunks(partial + abort + fresh) == [DecodedMessage(2, 0, 0, "00000004"), DecodedMessage(9, 1, 9, "77")])
    }

    @Test(arguments: [
        ("03 000000 ffffff 09 01000000", RTMPError.messageTooLarge(length: 0xFF_FFFF, limit: 8 * 1024 * 1024)),
        ("43 000000 000001 09 aa", RTMPError.missingChunkHeader(chunkStreamID: 3, format: 1)),
        ("c3 aa", RTMPError.missingChunkHeader(chunkStreamID: 3, format: 3)),
        ("02 000000 000004 01 00000000 00000000", RTMPError.invalidChunkSize(0, limit: 16 * 1024 * 1024)),
        ("02 000000 000004 01 00000000 80000000", RTMPError.invalidChunkSize(0x8000_0000, limit: 16 * 1024 * 1024)),
        ("02 000000 000004 01 00000000 01000001", RTMPError.invalidChunkSize(0x0100_0001, limit: 16 * 1024 * 1024)),
        ("02 000000 000002 01 00000000 0000", RTMPError.malformedControlMessage(type: 1, length: 2)),
    ])
    func refusesBadInput(hex: String, error: RTMPError) {
        #expect(throws: error) { _ = try decodeChunks(Hex.bytes(hex)) }
    }

    @Test func limitsChunkStreams() throws {
        let bytes = Hex.bytes("03 000000 000001 09 01000000 aa 04 000000 000001 09 01000000 aa 05 000000 000001 09 01000000 aa")
        #expect(throws: RTMPError.tooManyChunkStreams(limit: 2)) {
            _ = try decodeChunks(bytes, configuration: RTMPConfiguration(maximumChunkStreams: 2))
        }
        #expect(try decodeChunks(bytes, configuration: RTMPConfiguration(maximumChunkStreams: 3)).count == 3)
    }

    @Test func limitsBytesHeldInUnfinishedMessagesAcrossChunkStreams() throws {
        // Chunk size 128: three chunk streams each start a 300-byte message with one 128-byte chunk.
        let chunk = String(repeating: "ab", count: 128)
        let starts = ["03", "04", "05"].map { "\($0) 000000 00012c 09 01000000 " + chunk }
        let configuration = RTMPConfiguration(maximumMessageSize: 300, maximumPendingBytes: 300)
        #expect(throws: RTMPError.tooMuchPendingData(limit: 300)) {
            _ = try decodeChunks(Hex.bytes(starts.joined(separator: " ")), configuration: configuration)
        }
        // Finishing a message gives its bytes back: stream 3 completes (128 + 128 + 44), then 4 and 5 fit.
        let finish = "c3 " + chunk + " c3 " + String(repeating: "ab", count: 44)
        var decoder = RTMPChunkDecoder(configuration: configuration)
        var buffer = ByteBuffer(bytes: Hex.bytes(starts[0] + " " + finish + " " + starts[1] + " " + starts[2]))
        let message = try #require(try decoder.decode(&buffer))
        #expect(message.payload.readableBytes == 300)
        #expect(try decoder.decode(&buffer) == nil)
        #expect(decoder.pendingBytes == 256)
        // A new header on stream 4 drops its unfinished message, and Abort drops stream 5's.
        buffer.writeBytes(Hex.bytes("04 000000 000001 09 01000000 aa 02 000000 000004 02 00000000 00000005"))
        _ = try decoder.decode(&buffer)
        _ = try decoder.decode(&buffer)
        #expect(decoder.pendingBytes == 0)
    }

    @Test func aNewHeaderArrivingInPiecesGivesBackTheAbandonedBytesOnce() throws {
        let chunk = String(repeating: "ab", count: 128)
        var decoder = RTMPChunkDecoder(configuration: RTMPConfiguration(maximumMessageSize: 300, maximumPendingBytes: 300))
        var buffer = ByteBuffer(bytes: Hex.bytes("03 000000 00012c 09 01000000 " + chunk))
        #expect(try decoder.decode(&buffer) == nil)
        #expect(decoder.pendingBytes == 128)
        // A new fmt 0 header on the same chunk stream, its payload trickling in: every call re-reads the
        // header and needs more bytes; the abandoned 128 bytes are given back when the chunk completes.
        let next = Hex.bytes("03 000000 000004 09 01000000 aa bb cc dd")
        for byte in next.dropLast() {
            buffer.writeInteger(byte)
            #expect(try decoder.decode(&buffer) == nil)
            #expect(decoder.pendingBytes == 128)
        }
        buffer.writeInteger(next.last!)
        #expect(try decoder.decode(&buffer)?.payload.readableBytes == 4)
        #expect(decoder.pendingBytes == 0)
    }

    @Test func oversizedMessageFailsOnTheHeaderAlone() {
        #expect(throws: RTMPError.messageTooLarge(length: 1001, limit: 1000)) {
            _ = try decodeChunks(Hex.bytes("03 000000 0003e9 09 01000000"), configuration: RTMPConfiguration(maximumMessageSize: 1000))
        }
    }

    @Test func garbageNeverTraps() {
        var random = SeededGenerator(seed: 99)
        for _ in 0..<500 {
            let bytes = (0..<Int.random(in: 0...300, using: &random)).map { _ in UInt8.random(in: 0...255, using: &random) }
            _ = try? decodeChunks(bytes, pieces: [7, 13, 1], configuration: RTMPConfiguration(maximumMessageSize: 4096))
        }
    }

    @Test func timestampsUnwrapPast32Bits() {
        // Near the 24-bit extended-timestamp threshold nothing special happens to the 32-bit value.
        var early = RTMPTimestampUnwrapper()
        #expect([0xFF_FFFE, 0xFF_FFFF, 0x0100_0000].map { early.unwrap($0) } == [0xFF_FFFE, 0xFF_FFFF, 0x0100_0000])
        // Near 2^32 the value keeps rising; a small step back stays a small step back.
        var late = RTMPTimestampUnwrapper()
        let raw: [UInt32] = [0xFFFF_FFF0, 0xFFFF_FFFF, 0x10, 0x8, 0x20]
        let expected: [Int64] = [0xFFFF_FFF0, 0xFFFF_FFFF, 0x1_0000_0010, 0x1_0000_0008, 0x1_0000_0020]
        #expect(raw.map { late.unwrap($0) } == expected)
    }
}
