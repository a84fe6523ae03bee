import NIOCore
import Testing
@testable import Media

/// The client session against onair's own server session, both pure: bytes go back and forth until
/// the publish is accepted, then the media the client chunks arrives at the server as it was sent.
@Suite struct RTMPClientSessionTests {
    /// Runs client and server against each other; returns the server's non-send actions.
    struct Loop {
        var client = RTMPClientSession(app: "live2", tcUrl: "rtmp://example.com/live2", streamName: "key?x=1", handshakeRandom: [7])
        var server = RTMPServerSession(handshakeRandom: [9])
        var clientActions: [RTMPClientAction] = []
        var serverActions: [RTMPSessionAction] = []

        /// Moves bytes until neither side has more; `accept` answers a publish request.
        mutating func run(first: ByteBuffer, accept: Bool = true, split: Int = .max) throws {
            var toServer = [first]
            var toClient: [ByteBuffer] = []
            while !toServer.isEmpty || !toClient.isEmpty {
                for var bytes in toServer {
                    // Any split of the stream: feed it in pieces.
                    while bytes.readableBytes > 0 {
                        var piece = bytes.readSlice(length: min(split, bytes.readableBytes))!
                        for action in try server.receive(&piece) {
                            switch action {
                            case .send(let out): toClient.append(out)
                            case .publishRequested:
                                serverActions.append(action)
                                let answer = accept ? server.acceptPublish() : server.rejectPublish(code: "NetStream.Publish.BadName", description: "no")
                                for case .send(let out) in answer { toClient.append(out) }
                            default: serverActions.append(action)
                            }
                        }
                    }
                }
                toServer = []
                for var bytes in toClient {
                    for action in try client.receive(&bytes) {
                        if case .send(let out) = action { toServer.append(out) } else { clientActions.append(action) }
                    }
                }
                toClient = []
            }
        }
    }

    @Test(arguments: [Int.max, 1, 7, 1000]) func publishesToOnairsServerInAnySplit(split: Int) throws {
        var loop = Loop()
        try loop.run(first: loop.client.start(), split: split)
        #expect(loop.clientActions == [.publishing])
        #expect(loop.client.isPublishing)
        guard case .publishRequested(let app, let name) = loop.serverActions.last else {
            Issue.record("no publish request: \(loop.serverActions)"); return
        }
        #expect(app == "live2")
        #expect(name == "key", "the server strips the query")
        guard case .connected(_, let tcUrl) = loop.serverActions.first else { Issue.record("no connect"); return }
        #expect(tcUrl == "rtmp://example.com/live2")

        // Media larger than a chunk, with a timestamp past 24 bits, arrives whole.
        var out = ByteBuffer()
        let body = ByteBuffer(bytes: [0x17, 0x01, 0, 0, 0] + [UInt8](repeating: 0xAB, count: 10_000))
        loop.client.media(RTMPMessage(type: .video, timestamp: 0x0100_0000, payload: body), into: &out)
        loop.client.media(RTMPMessage(type: .audio, timestamp: 40, payload: ByteBuffer(bytes: [0xAF, 0x01, 0x21])), into: &out)
        loop.serverActions = []
        try loop.run(first: out, split: split)
        #expect(loop.serverActions.count == 2)
        if case .video(let timestamp, let payload) = loop.serverActions.first {
            #expect(timestamp == 0x0100_0000)
            #expect(payload == body)
        } else { Issue.record("no video: \(loop.serverActions)") }
        if case .audio(let timestamp, _) = loop.serverActions.last { #expect(timestamp == 40) } else { Issue.record("no audio") }

        // A clean end: FCUnpublish and deleteStream, and the server says the publish ended.
        let end = loop.client.unpublish()
        loop.serverActions = []
        try loop.run(first: end, split: split)
        #expect(loop.serverActions.contains { if case .unpublished = $0 { true } else { false } })
        #expect(loop.client.state == .closed)
    }

    @Test func aRefusedPublishIsReportedAsRefusedCredentials() throws {
        var loop = Loop()
        try loop.run(first: loop.client.start(), accept: false)
        #expect(loop.clientActions == [.refused(code: "NetStream.Publish.BadName", description: "no", refusedCredentials: true)])
        #expect(loop.client.state == .closed)
        var out = ByteBuffer()
        loop.client.media(RTMPMessage(type: .video, payload: ByteBuffer(bytes: [1])), into: &out)
        #expect(out.readableBytes == 0, "nothing is sent after a refusal")
    }

    @Test func nothingIsSentBeforeThePublishIsAccepted() {
        var client = RTMPClientSession(app: "a", tcUrl: "rtmp://h/a", streamName: "k")
        let c0c1 = client.start()
        #expect(c0c1.readableBytes == 1537)
        #expect(c0c1.getBytes(at: 0, length: 9) == [3, 0, 0, 0, 0, 0, 0, 0, 0], "version 3, time 0, the simple handshake")
        var out = ByteBuffer()
        client.media(RTMPMessage(type: .audio, payload: ByteBuffer(bytes: [1])), into: &out)
        #expect(out.readableBytes == 0)
    }

    @Test func aWrongHandshakeVersionAndGarbageThrow() {
        var client = RTMPClientSession(app: "a", tcUrl: "rtmp://h/a", streamName: "k")
        _ = client.start()
        var bad = ByteBuffer(bytes: [6] + [UInt8](repeating: 0, count: 3072))
        #expect(throws: RTMPError.self) { try client.receive(&bad) }
    }

    @Test func truncatedServerBytesWaitForMore() throws {
        var client = RTMPClientSession(app: "a", tcUrl: "rtmp://h/a", streamName: "k")
        _ = client.start()
        var partial = ByteBuffer(bytes: [3] + [UInt8](repeating: 1, count: 2000))
        #expect(try client.receive(&partial).isEmpty)
        #expect(client.state == .handshaking)
        var rest = ByteBuffer(bytes: [UInt8](repeating: 1, count: 1072))
        let actions = try client.receive(&rest)
        #expect(client.state == .connecting)
        guard case .send(let reply) = actions.first else { Issue.record("no C2 + connect"); return }
        #expect(reply.readableBytes > 1536, "C2, Set Chunk Size and connect")
    }

    @Test func pingsAreAnsweredAndAcknowledgementsSentPerWindow() throws {
        var loop = Loop()
        try loop.run(first: loop.client.start())
        // The server announced a 2.5 MB window; a ping request is answered with a response.
        var encoder = RTMPChunkEncoder()
        encoder.chunkSize = 4096
        var ping = encoder.encode(RTMPControlMessage.userControl(.pingRequest, 1234), chunkStreamID: 2)
        let actions = try loop.client.receive(&ping)
        guard case .send(var out) = actions.first else { Issue.record("no pong"); return }
        var decoder = RTMPChunkDecoder()
        let pong = try decoder.decode(&out)
        #expect(pong?.type == .userControl)
        #expect(pong?.payload.getInteger(at: 0, as: UInt16.self) == RTMPUserControlEvent.pingResponse.rawValue)
        #expect(pong?.payload.getInteger(at: 2, as: UInt32.self) == 1234)
    }
}
