import NIOCore
import Testing
@testable import Media

/// Plays the client side against an ``RTMPServerSession`` and decodes what the server sends.
struct RTMPTestClient {
    var session: RTMPServerSession
    var encoder = RTMPChunkEncoder()
    var serverDecoder = RTMPChunkDecoder()
    var serverBytes = ByteBuffer()
    var handshakeRemaining = 3073

    init(configuration: RTMPConfiguration = .init()) {
        session = RTMPServerSession(configuration: configuration, handshakeRandom: [0x42])
    }

    static let c0c1: [UInt8] = [3] + [UInt8](repeating: 0, count: 1536)
    static let c2 = [UInt8](repeating: 0, count: 1536)

    func command(_ name: String, _ transaction: Double, _ object: AMFValue = .null, _ arguments: [AMFValue] = [], stream: UInt32 = 0) -> [UInt8] {
        let message = RTMPCommand(name: name, transactionID: transaction, commandObject: object, arguments: arguments)
            .message(messageStreamID: stream)
        return Array(encoder.encode(message, chunkStreamID: stream == 0 ? 3 : 8).readableBytesView)
    }

    func message(_ type: RTMPMessageType, stream: UInt32, timestamp: UInt32, _ payload: [UInt8]) -> [UInt8] {
        let message = RTMPMessage(type: type, messageStreamID: stream, timestamp: timestamp, payload: ByteBuffer(bytes: payload))
        return Array(encoder.encode(message, chunkStreamID: 6).readableBytesView)
    }

    /// Sends `bytes`; returns the non-send actions as text and the server's decoded messages.
    mutating func send(_ bytes: [UInt8]) throws -> (events: [String], replies: [RTMPMessage]) {
        var buffer = ByteBuffer(bytes: bytes)
        return try absorb(try session.receive(&buffer))
    }

    mutating func absorb(_ actions: [RTMPSessionAction]) throws -> (events: [String], replies: [RTMPMessage]) {
        var events: [String] = []
        var replies: [RTMPMessage] = []
        for action in actions {
            switch action {
            case .send(var bytes):
                let skip = min(handshakeRemaining, bytes.readableBytes)
                bytes.moveReaderIndex(forwardBy: skip)
                handshakeRemaining -= skip
                serverBytes.writeBuffer(&bytes)
                while let message = try serverDecoder.decode(&serverBytes) { replies.append(message) }
            case .connected(let app, let tcUrl): events.append("connected(\(app), \(tcUrl ?? "nil"))")
            case .publishRequested(let app, let name): events.append("publishRequested(\(app), \(name))")
            case .audio(let timestamp, let payload): events.append("audio(\(timestamp), \(Hex.string(payload.readableBytesView)))")
            case .video(let timestamp, let payload): events.append("video(\(timestamp), \(Hex.string(payload.readableBytesView)))")
            case .metadata(let timestamp, let values): events.append("metadata(\(timestamp), \(values))")
            case .unpublished: events.append("unpublished")
            }
        }
        return (events, replies)
    }

    /// Handshake and connect; returns nothing, the replies are checked elsewhere.
    mutating func connectAndPublish(name: String = "key") throws {
        _ = try send(Self.c0c1 + Self.c2)
        _ = try send(command("connect", 1, .object(pairs: ["app": .string("live")])))
        _ = try send(command("createStream", 2))
        _ = try send(command("publish", 3, .null, [.string(name), .string("live")], stream: 1))
    }
}

/// The command in a reply message.
func replyCommand(_ message: RTMPMessage) throws -> RTMPCommand {
    try RTMPCommand(decoding: message, maximumDepth: 16)
}

@Suite struct RTMPServerSessionTests {
    static let connectChunks = "030000000000811400000000020007636f6e6e656374003ff00000000000000300036170700200046c69766500047479706502000a6e6f6e707269766174650008666c61736856657202001f464d4c452f332e302028636f6d70617469626c653b20464d53632f312e30290005746355726c02001572746d703a2f2f6c6f63616c686f73742f6c6976650000c309"
    static let connectReply = "020000000000040500000000002625a0020000000000050600000000002625a00202000000000004010000000000001000030000000000be14000000000200075f726573756c74003ff0000000000000030006666d7356657202000d464d532f332c302c312c313233000c6361706162696c697469657300403f0000000000000000090300056c6576656c0200067374617475730004636f646502001d4e6574436f6e6e656374696f6e2e436f6e6e6563742e53756363657373000b6465736372697074696f6e020015436f6e6e656374696f6e207375636365656465642e000e6f626a656374456e636f64696e67000000000000000000000009"

    @Test func connectGoldenBytes() throws {
        var session = RTMPServerSession(handshakeRandom: [0])
        var handshake = ByteBuffer(bytes: RTMPTestClient.c0c1 + RTMPTestClient.c2)
        let first = try session.receive(&handshake)
        #expect(first.count == 1)
        var connect = ByteBuffer(bytes: Hex.bytes(Self.connectChunks))
        let actions = try session.receive(&connect)
        #expect(actions.count == 2)
        guard case .send(let reply) = actions.first, case .connected(let app, let tcUrl) = actions.last else {
            Issue.record("unexpected actions \(actions)")
            return
        }
        #expect(Hex.string(reply.readableBytesView) == Self.connectReply)
        #expect(app == "live")
        #expect(tcUrl == "rtmp://localhost/live")
    }

    @Test func fullPublishConversation() throws {
        var client = RTMPTestClient()
        let handshake = try client.send(RTMPTestClient.c0c1)
        #expect(handshake.events.isEmpty && client.handshakeRemaining == 0)

        var step = try client.send(RTMPTestClient.c2 + Hex.bytes(Self.connectChunks))
        #expect(step.events == ["connected(live, rtmp://localhost/live)"])
        #expect(step.replies.map(\.type) == [.windowAcknowledgementSize, .setPeerBandwidth, .setChunkSize, .amf0Command])
        var result = try replyCommand(step.replies[3])
        #expect(result.name == "_result" && result.transactionID == 1)
        #expect(result.commandObject["fmsVer"] == .string("FMS/3,0,1,123"))
        #expect(result.arguments.first?["code"] == .string("NetConnection.Connect.Success"))

        step = try client.send(client.command("releaseStream", 2, .null, [.string("key")]))
        #expect(try step.replies.map(replyCommand).map { "\($0.name) \($0.transactionID)" } == ["_result 2.0"])
        step = try client.send(client.command("FCPublish", 3, .null, [.string("key")]))
        #expect(try step.replies.map(replyCommand).map { "\($0.name) \($0.transactionID)" } == ["_result 3.0"])
        step = try client.send(client.command("createStream", 4))
        result = try replyCommand(try #require(step.replies.first))
        #expect(result.name == "_result" && result.transactionID == 4 && result.arguments == [.number(1)])

        step = try client.send(client.command("publish", 5, .null, [.string("key?token=abc"), .string("live")], stream: 1))
        #expect(step.events == ["publishRequested(live, key)"])
        #expect(step.replies.isEmpty)  // no Publish.Start before the owner decides

        step = try client.send(client.message(.video, stream: 1, timestamp: 0, [0x17, 0x00]))
        #expect(step.events.isEmpty)  // media before acceptance is dropped
        #expect(!client.session.isPublishing)

        step = try client.absorb(client.session.acceptPublish())
        #expect(client.session.isPublishing)
        #expect(step.replies.count == 2)
        #expect(step.replies[0].type == .userControl && Hex.string(step.replies[0].payload.readableBytesView) == "000000000001")
        let status = try replyCommand(step.replies[1])
        #expect(step.replies[1].messageStreamID == 1)
        #expect(status.name == "onStatus" && status.arguments.first?["level"] == .string("status"))
        #expect(status.arguments.first?["code"] == .string("NetStream.Publish.Start"))

        let metadata = AMF0Encoder().encode([.string("@setDataFrame"), .string("onMetaData"), .ecmaArray([AMFProperty(key: "width", value: .number(1280))])])
        step = try client.send(client.message(.amf0Data, stream: 1, timestamp: 0, Array(metadata.readableBytesView)))
        #expect(step.events == ["metadata(0, [Media.AMFValue.ecmaArray([Media.AMFProperty(key: \"width\", value: Media.AMFValue.number(1280.0))])])"])

        step = try client.send(client.message(.video, stream: 1, timestamp: 40, [0x17, 0x01, 0xAA]))
        #expect(step.events == ["video(40, 1701aa)"])
        step = try client.send(client.message(.audio, stream: 1, timestamp: 45, [0xAF, 0x01]))
        #expect(step.events == ["audio(45, af01)"])

        step = try client.send(client.command("FCUnpublish", 6, .null, [.string("key")]))
        #expect(step.events == ["unpublished"])
        #expect(!client.session.isPublishing)
        #expect(try step.replies.map(replyCommand).map(\.name).contains("_result"))
    }

    @Test func rejectionSendsBadName() throws {
        var client = RTMPTestClient()
        try client.connectAndPublish(name: "wrong")
        let step = try client.absorb(client.session.rejectPublish(code: "NetStream.Publish.BadName", description: "Unknown stream key."))
        let status = try replyCommand(try #require(step.replies.first))
        #expect(status.name == "onStatus")
        #expect(status.arguments.first?["level"] == .string("error"))
        #expect(status.arguments.first?["code"] == .string("NetStream.Publish.BadName"))
        #expect(!client.session.isPublishing)
        #expect(client.session.acceptPublish().isEmpty)
    }

    @Test func dripFedConversationGivesTheSameEvents() throws {
        var whole = RTMPTestClient()
        let video = whole.message(.video, stream: 1, timestamp: 0x0100_0000, [UInt8](repeating: 7, count: 300))
        let bytes = RTMPTestClient.c0c1 + RTMPTestClient.c2 + Hex.bytes(Self.connectChunks)
            + whole.command("createStream", 2) + whole.command("publish", 3, .null, [.string("k")], stream: 1)
        var events = try whole.send(bytes).events
        _ = whole.session.acceptPublish()
        events += try whole.send(video).events

        var drip = RTMPTestClient()
        var dripEvents: [String] = []
        for byte in bytes { dripEvents += try drip.send([byte]).events }
        _ = drip.session.acceptPublish()
        var random = SeededGenerator(seed: 5)
        var offset = 0
        while offset < video.count {
            let end = min(video.count, offset + Int.random(in: 1...50, using: &random))
            dripEvents += try drip.send(Array(video[offset..<end])).events
            offset = end
        }
        #expect(dripEvents == events)
        #expect(events.last?.hasPrefix("video(16777216, ") == true)
    }

    @Test func timestampsKeepRisingAcrossTheWrap() throws {
        var client = RTMPTestClient()
        try client.connectAndPublish()
        _ = client.session.acceptPublish()
        var events: [String] = []
        for timestamp: UInt32 in [0xFFFF_FFF0, 0xFFFF_FFFF, 0x0000_0010] {
            events += try client.send(client.message(.audio, stream: 1, timestamp: timestamp, [0xAF])).events
        }
        #expect(events == ["audio(4294967280, af)", "audio(4294967295, af)", "audio(4294967312, af)"])
    }

    @Test func aggregateMessagesAreSplit() throws {
        var client = RTMPTestClient()
        try client.connectAndPublish()
        _ = client.session.acceptPublish()
        // video tag at 1000 ms, audio tag at 1010 ms, each followed by its back pointer.
        let body = Hex.bytes("09 000002 0003e8 00 000000 1701 0000000d 08 000001 0003f2 00 000000 af 0000000c")
        let step = try client.send(client.message(.aggregate, stream: 1, timestamp: 5000, body))
        #expect(step.events == ["video(5000, 1701)", "audio(5010, af)"])
        #expect(throws: RTMPError.malformedAggregate(offset: 0, length: 5)) {
            _ = try client.send(client.message(.aggregate, stream: 1, timestamp: 0, [0x09, 0, 0, 9, 0]))
        }
    }

    @Test func pingIsAnsweredAndBytesAreAcknowledged() throws {
        var client = RTMPTestClient()
        _ = try client.send(RTMPTestClient.c0c1 + RTMPTestClient.c2)
        var step = try client.send(client.message(.userControl, stream: 0, timestamp: 0, [0, 6, 0, 0, 0x12, 0x34]))
        #expect(step.replies.map { Hex.string($0.payload.readableBytesView) } == ["000700001234"])
        step = try client.send(client.message(.windowAcknowledgementSize, stream: 0, timestamp: 0, [0, 0, 0x0C, 0x80]))  // 3200 bytes
        #expect(step.replies.isEmpty)
        step = try client.send(client.message(.audio, stream: 1, timestamp: 0, [UInt8](repeating: 0, count: 100)))
        let ack = try #require(step.replies.first)
        #expect(ack.type == .acknowledgement)
        let total = 3073 + 18 + 16 + 112
        #expect(ack.payload.getInteger(at: ack.payload.readerIndex, as: UInt32.self) == UInt32(total))
        step = try client.send(client.message(.audio, stream: 1, timestamp: 0, [0]))
        #expect(step.replies.isEmpty)
    }

    @Test func playAndUnknownCommandsAreRefused() throws {
        var client = RTMPTestClient()
        _ = try client.send(RTMPTestClient.c0c1 + RTMPTestClient.c2)
        var step = try client.send(client.command("play", 0, .null, [.string("x")], stream: 1))
        #expect(try replyCommand(try #require(step.replies.first)).arguments.first?["code"] == .string("NetStream.Play.Failed"))
        step = try client.send(client.command("getStreamLength", 7, .null, [.string("x")]))
        let error = try replyCommand(try #require(step.replies.first))
        #expect(error.name == "_error" && error.transactionID == 7)
        step = try client.send(client.command("someNotification", 0))
        #expect(step.replies.isEmpty && step.events.isEmpty)
    }

    @Test func amf3WrappedConnectIsUnderstood() throws {
        var client = RTMPTestClient()
        _ = try client.send(RTMPTestClient.c0c1 + RTMPTestClient.c2)
        // Format byte 0, AMF0 name and transaction id, the command object switched to AMF3.
        let body = [0x00] + Hex.bytes("020007636f6e6e656374 003ff0000000000000 11 0a 0b 01 07 617070 06 096c697665 01")
        let step = try client.send(client.message(.amf3Command, stream: 0, timestamp: 0, body))
        #expect(step.events == ["connected(live, nil)"])
    }

    @Test func hostileInputEndsTheSession() throws {
        var deep = RTMPTestClient(configuration: RTMPConfiguration(maximumAMFDepth: 4))
        _ = try deep.send(RTMPTestClient.c0c1 + RTMPTestClient.c2)
        var nested = AMFValue.null
        for _ in 0..<5 { nested = .object(pairs: ["k": nested]) }
        #expect(throws: RTMPError.amfDepthExceeded(limit: 4)) { _ = try deep.send(deep.command("connect", 1, nested)) }

        var truncated = RTMPTestClient()
        _ = try truncated.send(RTMPTestClient.c0c1 + RTMPTestClient.c2)
        let bad = truncated.message(.amf0Command, stream: 0, timestamp: 0, [0x02, 0x00, 0x10, 0x61])
        #expect(throws: RTMPError.malformedAMF(messageType: 20, .truncated(needed: 16, available: 1))) { _ = try truncated.send(bad) }

        var big = RTMPTestClient(configuration: RTMPConfiguration(maximumMessageSize: 1000))
        _ = try big.send(RTMPTestClient.c0c1 + RTMPTestClient.c2)
        #expect(throws: RTMPError.messageTooLarge(length: 1001, limit: 1000)) {
            _ = try big.send(Hex.bytes("06 000000 0003e9 09 01000000"))
        }

        var version = RTMPTestClient()
        #expect(throws: RTMPError.unsupportedHandshakeVersion(6)) { _ = try version.send([6]) }

        var random = SeededGenerator(seed: 11)
        for _ in 0..<200 {
            var garbage = RTMPTestClient()
            _ = try garbage.send(RTMPTestClient.c0c1 + RTMPTestClient.c2)
            let bytes = (0..<Int.random(in: 1...200, using: &random)).map { _ in UInt8.random(in: 0...255, using: &random) }
            _ = try? garbage.send(bytes)
        }
    }
}
