import CompressNIO
import Foundation
import Hummingbird
import Logging
import Media
import NIOCore
import NIOEmbedded
import NIOHTTPTypes
import Testing
@testable import Appliance

/// The playlist fast path on an EmbeddedChannel: what it answers itself, what it passes on, and that
/// pipelined responses keep their order.
@Suite struct PlaylistFastPathTests {
    let root = NSTemporaryDirectory() + "onair-fast-\(UUID().uuidString)"

    /// A factory with one live stream (playback ID `pub`, and `sig` signed) with 8 s of 30 fps video.
    func fixture(_ mode: LiveStream.LatencyMode = .standard, seconds: Int = 8) async throws -> (PackagerFactory, PlaybackDirectory, RequestCounter) {
        let factory = PackagerFactory(root: root, settings: PackagerSettings(segmentDuration: 2, playlistLength: 10, deleteGraceSegments: 2,
                                                                             maxBytesPerStream: 1 << 30),
                                      budget: HLSBudget(limit: 1 << 30), logger: Logger(label: "test"), wallClock: { 1_700_000_000_000 })
        let stream = LiveStream(id: "s1", streamKey: "key", status: .active, createdAt: 1, reconnectWindow: 0,
                                maxContinuousDuration: 43200, latencyMode: mode, passthrough: nil, audioOnly: false, test: false,
                                playbackIDs: [PlaybackID(id: "pub", policy: .public), PlaybackID(id: "sig", policy: .signed)])
        let packager = try #require(await factory.makeOutput(for: stream, onPlayable: {}) as? StreamPackager)
        packager.sessionStarted(1)
        let base = StreamPackagerTests()
        packager.tracks(video: .h264(base.record), audio: nil, session: 1)
        base.feed(packager, session: 1, seconds: seconds)
        let directory = PlaybackDirectory { id in
            stream.playbackIDs.first { $0.id == id }.map { PlaybackDirectory.Entry(playbackID: $0, target: .liveStream("s1")) }
        }
        for id in ["pub", "sig"] { _ = try await directory.resolve(id) }
        return (factory, directory, RequestCounter())
    }

    func channel(_ factory: PackagerFactory, _ directory: PlaybackDirectory, _ counter: RequestCounter) throws -> EmbeddedChannel {
        let channel = EmbeddedChannel()
        // Never loaded here (no database is opened): grants are refused, and the router is asked.
        let signing = PlaybackSigning(store: SigningKeyStore(store: LiveStreamStore(path: root + "/never.sqlite")))
        let source = PlaylistFastPath.Source(directory: directory, packagers: factory, requests: counter, signing: signing, served: { _ in })
        try channel.pipeline.syncOperations.addHandler(PlaylistFastPath(source: source))
        return channel
    }

    static func get(_ path: String, _ headers: HTTPFields = [:]) -> HTTPRequestPart {
        .head(HTTPRequest(method: .get, scheme: "https", authority: "box", path: path, headerFields: headers))
    }

    @Test func aLivePublicPlaylistIsAnsweredOnTheEventLoop() async throws {
        defer { try? FileManager.default.removeItem(atPath: root) }
        let (factory, directory, counter) = try await fixture()
        let channel = try channel(factory, directory, counter)
        try channel.writeInbound(Self.get("/pub/index.m3u8"))
        try channel.writeInbound(HTTPRequestPart.end(nil))
        #expect(try channel.readInbound(as: HTTPRequestPart.self) == nil, "nothing reached the router")
        guard case .head(let head) = try #require(try channel.readOutbound(as: HTTPResponsePart.self)),
              case .body(let body) = try #require(try channel.readOutbound(as: HTTPResponsePart.self)),
              case .end = try #require(try channel.readOutbound(as: HTTPResponsePart.self)) else { Issue.record("not head, body, end"); return }
        #expect(head.status == .ok)
        #expect(head.headerFields[.contentType] == "application/vnd.apple.mpegurl")
        #expect(head.headerFields[.cacheControl] == "max-age=1" && head.headerFields[.accessControlAllowOrigin] == "*")
        #expect(head.headerFields[.contentLength] == String(body.readableBytes) && head.headerFields[.date] != nil)
        #expect(String(buffer: body).hasPrefix("#EXTM3U\n") && String(buffer: body).contains("#EXTINF"))
        #expect(counter.count == 1)
        // gzip when asked, the same bytes gunzipped; keep-alive is fine.
        try channel.writeInbound(Self.get("/pub/index.m3u8", [.acceptEncoding: "gzip, deflate", .connection: "keep-alive"]))
        guard case .head(let gzipped) = try #require(try channel.readOutbound(as: HTTPResponsePart.self)),
              case .body(var compressed) = try #require(try channel.readOutbound(as: HTTPResponsePart.self)) else { return }
        #expect(gzipped.headerFields[.contentEncoding] == "gzip")
        #expect(try compressed.decompress(with: .gzip) == body)
        // A client that does not read what it is sent goes the router's way (which has backpressure).
        _ = try channel.readOutbound(as: HTTPResponsePart.self)
        channel.isWritable = false
        try channel.writeInbound(Self.get("/pub/index.m3u8"))
        #expect(try channel.readInbound(as: HTTPRequestPart.self) != nil)
    }

    @Test func aDeltaAndAFullPlaylistOnOneConnectionEachGetTheirOwnLength() async throws {
        defer { try? FileManager.default.removeItem(atPath: root) }
        let (factory, directory, counter) = try await fixture(.low, seconds: 24)  // 11 segments: longer than CAN-SKIP-UNTIL
        let channel = try channel(factory, directory, counter)
        var lengths: [Int] = []
        for path in ["/pub/index.m3u8?_HLS_skip=YES", "/pub/index.m3u8"] {
            try channel.writeInbound(Self.get(path))
            guard case .head(let head) = try #require(try channel.readOutbound(as: HTTPResponsePart.self)),
                  case .body(let body) = try #require(try channel.readOutbound(as: HTTPResponsePart.self)) else { return }
            _ = try channel.readOutbound(as: HTTPResponsePart.self)
            #expect(head.headerFields[.contentLength] == String(body.readableBytes))
            #expect(String(buffer: body).contains("#EXT-X-SKIP:") == path.contains("skip"))
            lengths.append(body.readableBytes)
        }
        #expect(lengths[0] < lengths[1])
    }

    @Test(arguments: ["/pub/index.m3u8?token=x", "/pub/index.m3u8?_HLS_msn=x", "/sig/index.m3u8", "/sig/t/1.k.AAAA/index.m3u8", "/pub/t/1.k.AAAA/index.m3u8", "/nope/index.m3u8", "/pub/seg.ts", "/pub.m3u8", "/healthz", "/pub/index.m3u8x"])
    func everythingElseGoesOnToTheRouter(path: String) async throws {
        defer { try? FileManager.default.removeItem(atPath: root) }
        let (factory, directory, counter) = try await fixture()
        let channel = try channel(factory, directory, counter)
        try channel.writeInbound(Self.get(path))
        try channel.writeInbound(HTTPRequestPart.end(nil))
        #expect(try channel.readInbound(as: HTTPRequestPart.self) != nil)
        #expect(try channel.readInbound(as: HTTPRequestPart.self) == .end(nil))
        #expect(try channel.readOutbound(as: HTTPResponsePart.self) == nil)
        // A range, HEAD or Connection header goes on too.
        for request in [Self.get("/pub/index.m3u8", [.range: "bytes=0-9"]), Self.get("/pub/index.m3u8", [.connection: "close"]),
                        .head(HTTPRequest(method: .head, scheme: "https", authority: "box", path: "/pub/index.m3u8"))] {
            try channel.writeInbound(request)
            #expect(try channel.readInbound(as: HTTPRequestPart.self) != nil)
        }
    }

    @Test func aPipelinedRequestWaitsForTheOneBeingAnswered() async throws {
        defer { try? FileManager.default.removeItem(atPath: root) }
        let (factory, directory, counter) = try await fixture()
        let channel = try channel(factory, directory, counter)
        try channel.writeInbound(Self.get("/pub/index.m3u8?x=1"))  // to the router
        try channel.writeInbound(HTTPRequestPart.end(nil))
        try channel.writeInbound(Self.get("/pub/index.m3u8"))  // would be fast, but must not overtake
        #expect(try channel.readOutbound(as: HTTPResponsePart.self) == nil)
        #expect(try channel.readInbound(as: HTTPRequestPart.self) != nil)
        _ = try channel.readInbound(as: HTTPRequestPart.self)
        #expect(try channel.readInbound(as: HTTPRequestPart.self) != nil, "the second one went on to the router too")
        // Once both are answered, the next plain request is fast again.
        for _ in 0..<2 {
            try channel.writeOutbound(HTTPResponsePart.head(HTTPResponse(status: .ok)))
            try channel.writeOutbound(HTTPResponsePart.end(nil))
        }
        while try channel.readOutbound(as: HTTPResponsePart.self) != nil {}
        try channel.writeInbound(Self.get("/pub/index.m3u8"))
        #expect(try channel.readInbound(as: HTTPRequestPart.self) == nil)
        #expect(try channel.readOutbound(as: HTTPResponsePart.self) != nil)
    }

    /// The packager of the fixture's stream.
    func packager(_ factory: PackagerFactory) throws -> StreamPackager { try #require(factory.packager(liveStreamID: "s1")) }

    @Test func aBlockingReloadIsHeldOnTheEventLoopAndAnsweredWhenItsPartIsPublished() async throws {
        defer { try? FileManager.default.removeItem(atPath: root) }
        let (factory, directory, counter) = try await fixture(.low)
        let packager = try packager(factory)
        let channel = try channel(factory, directory, counter)
        // 8 s: segments 0...2 complete, 3 being filled; ask for part 1 of segment 4, and pipeline another request.
        try channel.writeInbound(Self.get("/pub/index.m3u8?_HLS_part=1&_HLS_msn=4&_HLS_skip=YES"))
        try channel.writeInbound(HTTPRequestPart.end(nil))
        try channel.writeInbound(Self.get("/pub/index.m3u8"))
        try channel.writeInbound(HTTPRequestPart.end(nil))
        channel.embeddedEventLoop.run()
        #expect(try channel.readOutbound(as: HTTPResponsePart.self) == nil && packager.held.count == 1)
        #expect(try channel.readInbound(as: HTTPRequestPart.self) == nil, "the pipelined one waits behind it")
        StreamPackagerTests().feed(packager, session: 1, seconds: 1, start: 8)  // parts 0...2 of segment 4
        channel.embeddedEventLoop.run()
        guard case .head(let head) = try #require(try channel.readOutbound(as: HTTPResponsePart.self)),
              case .body(let body) = try #require(try channel.readOutbound(as: HTTPResponsePart.self)) else { Issue.record("no answer"); return }
        #expect(head.status == .ok && head.headerFields[.cacheControl] == "public, max-age=12")
        #expect(String(buffer: body).contains("#EXT-X-PRELOAD-HINT"))
        _ = try channel.readOutbound(as: HTTPResponsePart.self)
        // Then the pipelined one, answered here too.
        guard case .head(let second) = try #require(try channel.readOutbound(as: HTTPResponsePart.self)) else { Issue.record("no second"); return }
        #expect(second.headerFields[.cacheControl] == "public, max-age=1")
        #expect(packager.held.count == 0 && counter.count == 2)
    }

    @Test func aHoldTimesOutWith503AndAClosedConnectionDropsIt() async throws {
        defer { try? FileManager.default.removeItem(atPath: root) }
        let (factory, directory, counter) = try await fixture(.low)
        let packager = try packager(factory)
        let channel = try channel(factory, directory, counter)
        try channel.writeInbound(Self.get("/pub/index.m3u8?_HLS_msn=4"))
        channel.embeddedEventLoop.advanceTime(by: .seconds(5))
        #expect(try channel.readOutbound(as: HTTPResponsePart.self) == nil)
        channel.embeddedEventLoop.advanceTime(by: .seconds(2))  // 3 target durations: 6 s
        channel.embeddedEventLoop.run()
        guard case .head(let head) = try #require(try channel.readOutbound(as: HTTPResponsePart.self)) else { Issue.record("no 503"); return }
        #expect(head.status == .serviceUnavailable && packager.held.count == 0)
        // Another hold, and the client goes away: the hold is dropped at once.
        let other = try self.channel(factory, directory, counter)
        try other.writeInbound(Self.get("/pub/index.m3u8?_HLS_msn=4"))
        #expect(packager.held.count == 1)
        _ = try other.finish()
        #expect(packager.held.count == 0 && packager.held.limit.count == 0)
        // Too far ahead: the router answers the 400.
        try channel.writeInbound(Self.get("/pub/index.m3u8?_HLS_msn=99"))
        #expect(try channel.readInbound(as: HTTPRequestPart.self) != nil)
    }

    @Test(arguments: [("", true), ("_HLS_msn=4", true), ("_HLS_skip=YES&_HLS_msn=4&_HLS_part=0", true), ("_HLS_skip=v2", true),
                      ("_HLS_part=1", false), ("_HLS_msn=4&_HLS_msn=5", false), ("_HLS_skip=NO", false), ("token=1", false), ("a", false)])
    func directivesAreReadInAnyOrderAndNothingElseIs(query: String, fast: Bool) {
        #expect((PlaylistFastPath.directives(Substring(query)) != nil) == fast)
    }

    @Test(arguments: [("/abc/index.m3u8", "abc"), ("/index.m3u8", nil), ("//index.m3u8", nil), ("/a-b/index.m3u8", nil),
                      ("/abc/index.m3u8?x", "abc"), ("abc/index.m3u8", nil), ("/" + String(repeating: "a", count: 65) + "/index.m3u8", nil)] as [(String, String?)])
    func playbackIDsAreLettersAndDigits(path: String, id: String?) {
        #expect(PlaylistFastPath.split(path)?.id == id)
    }

    @Test(arguments: [("/abc/t/1.k.m/index.m3u8", "abc", "1.k.m"), ("/abc/index.m3u8", "abc", nil), ("/abc/t//index.m3u8", nil, nil),
                      ("/abc/x/g/index.m3u8", nil, nil), ("/abc/t/a/b/index.m3u8", nil, nil), ("/abc/tg/index.m3u8", nil, nil)]
          as [(String, String?, String?)])
    func grantPathsAreSplitToo(path: String, id: String?, grant: String?) {
        let split = PlaylistFastPath.split(path)
        #expect(split?.id == id && split?.grant == grant)
    }
}
