import Foundation
import GRDB
import NIOCore
import Testing
@testable import Appliance

@Suite struct SimulcastURLTests {
    @Test(arguments: [
        ("rtmp://a.rtmp.youtube.com/live2", "KEY", "a.rtmp.youtube.com", 1935, false, "live2", "rtmp://a.rtmp.youtube.com/live2", "KEY"),
        ("rtmps://live-api-s.facebook.com:443/rtmp/", "FB-1?s_bl=1", "live-api-s.facebook.com", 443, true, "rtmp",
         "rtmps://live-api-s.facebook.com:443/rtmp", "FB-1?s_bl=1"),
        ("rtmp://10.0.0.5:1936/app/inner", "k", "10.0.0.5", 1936, false, "app/inner", "rtmp://10.0.0.5:1936/app/inner", "k"),
        ("rtmp://host/app/streamkey", nil, "host", 1935, false, "app", "rtmp://host/app", "streamkey"),
        ("RTMPS://host/app/k?token=1", nil, "host", 443, true, "app", "rtmps://host/app", "k?token=1"),
    ] as [(String, String?, String, Int, Bool, String, String, String)])
    func parses(url: String, key: String?, host: String, port: Int, tls: Bool, app: String, tcUrl: String, name: String) throws {
        let parsed = try SimulcastURL(url: url, streamKey: key)
        #expect(parsed.host == host && parsed.port == port && parsed.tls == tls)
        #expect(parsed.app == app && parsed.tcUrl == tcUrl && parsed.streamName == name)
    }

    @Test(arguments: [
        ("http://host/app", "k", "rtmp://"), ("srt://host:6001?streamid=x", nil, "SRT"), ("rtmp://host/app", nil, "stream_key"),
        ("rtmp://host", "k", "application"), ("rtmp:///app", "k", "host"), ("rtmp://u:p@host/app", "k", "user"),
        ("rtmp://host:0/app", "k", "port"), ("not a url", "k", "rtmp://"), ("rtmp://host/app", "a\nb", "control"),
    ] as [(String, String?, String)])
    func refuses(url: String, key: String?, mentions: String) {
        #expect { try SimulcastURL(url: url, streamKey: key) } throws: { error in
            (error as? SimulcastURL.Invalid)?.message.contains(mentions) == true
        }
    }

    @Test func refusesAnOverlongURL() {
        #expect(throws: SimulcastURL.Invalid.self) { try SimulcastURL(url: "rtmp://h/" + String(repeating: "a", count: 3000), streamKey: "k") }
    }
}

@Suite struct SimulcastConnectionTests {
    let start = ContinuousClock.now

    @Test func statusesFollowMuxs() {
        var connection = SimulcastConnection()
        #expect(connection.started() == SimulcastStatus(state: .starting, severity: nil))
        #expect(connection.publishing(at: start) == SimulcastStatus(state: .broadcasting, severity: nil))
        let failed = connection.failed(at: start + .seconds(1), fatal: false)
        #expect(failed.status == SimulcastStatus(state: .errored, severity: .normal))
        #expect(failed.retryAfter == .seconds(1))
        #expect(connection.failed(at: start + .seconds(2), fatal: true).status == SimulcastStatus(state: .errored, severity: .fatal))
        #expect(connection.broadcastEnded() == .idle)
        #expect(connection.broadcastEnded() == nil)
        #expect(connection.failed(at: start + .seconds(3), fatal: false).retryAfter == nil, "no retry after the end")
        #expect(connection.publishing(at: start + .seconds(4)) == nil)
    }

    @Test func theBackoffDoublesToItsCapAndStartsOverAfterAStableConnection() {
        var connection = SimulcastConnection(settings: .init(firstRetry: .seconds(1), maxRetry: .seconds(30), stableAfter: .seconds(30)))
        _ = connection.started()
        var waits: [Duration] = []
        for n in 0..<7 { waits.append(connection.failed(at: start + .seconds(n), fatal: false).retryAfter!) }
        #expect(waits == [1, 2, 4, 8, 16, 30, 30].map { Duration.seconds($0) })
        _ = connection.publishing(at: start + .seconds(100))
        #expect(connection.failed(at: start + .seconds(110), fatal: false).retryAfter == .seconds(30), "10 s up is not stable")
        _ = connection.publishing(at: start + .seconds(200))
        #expect(connection.failed(at: start + .seconds(240), fatal: false).retryAfter == .seconds(1), "40 s up starts over")
        #expect(connection.failed(at: start + .seconds(241), fatal: true).retryAfter == .seconds(30), "a refused key waits longest")
    }

    @Test func repeatedFailuresReportTheStatusOnce() {
        var connection = SimulcastConnection()
        _ = connection.started()
        #expect(connection.failed(at: start, fatal: false).status != nil)
        #expect(connection.failed(at: start, fatal: false).status == nil)
    }
}

@Suite struct SimulcastRequestTests {
    func request(_ json: String) throws -> LiveStreamRequest { try LiveStreamRequest(body: ByteBuffer(string: json)) }

    @Test func aCreateRequestTakesTargets() throws {
        var body = try request(#"{"simulcast_targets":[{"url":"rtmp://h/app","stream_key":"k","passthrough":"p"},{"url":"rtmp://h/app/k2"}]}"#)
        let new = try body.newLiveStream()
        #expect(new.simulcastTargets.map(\.url) == ["rtmp://h/app", "rtmp://h/app/k2"])
        #expect(new.simulcastTargets.map(\.streamKey) == ["k", nil])
        #expect(new.simulcastTargets.first?.passthrough == "p")
    }

    @Test(arguments: [
        (#"{"simulcast_targets":{}}"#, "simulcast_targets must be an array"),
        (#"{"simulcast_targets":[1]}"#, "entries must be objects"),
        (#"{"simulcast_targets":[{"url":"ftp://h/a","stream_key":"k"}]}"#, "simulcast_targets.url must be an rtmp"),
        (#"{"simulcast_targets":[{}]}"#, "simulcast_targets.url is required"),
        (#"{"simulcast_targets":[{"url":"rtmp://h/a","stream_key":5}]}"#, "simulcast_targets.stream_key must be a string"),
        (#"{"simulcast_targets":[1,2,3,4,5,6,7]}"#, "at most 6"),
    ])
    func badTargetsAreNamed(json: String, mentions: String) throws {
        var body = try request(json)
        #expect { try body.newLiveStream() } throws: { error in
            (error as? MuxError)?.messages.contains { $0.contains(mentions) } == true
        }
    }

    @Test func theTargetJSONIsMuxs() throws {
        let target = SimulcastTarget(id: "t", url: "rtmp://h/app", streamKey: "k", passthrough: nil)
        func json(_ status: SimulcastStatus) throws -> [String: String] {
            try JSONDecoder().decode([String: String].self, from: LiveStreamJSON.webhookBody(SimulcastTargetJSON(target: target, status: status)))
        }
        #expect(try json(.idle) == ["id": "t", "url": "rtmp://h/app", "stream_key": "k", "status": "idle"])
        #expect(try json(SimulcastStatus(state: .errored, severity: .fatal))["error_severity"] == "fatal")
        var stream = LiveStream(id: "abc", streamKey: "key", status: .idle, createdAt: 1, reconnectWindow: 60, maxContinuousDuration: 60,
                                latencyMode: .standard, passthrough: nil, audioOnly: false, test: false, playbackIDs: [], activeIngestProtocol: nil)
        stream.simulcastTargets = []
        #expect(!String(decoding: LiveStreamJSON.webhookBody(LiveStreamJSON(stream)), as: UTF8.self).contains("simulcast_targets"))
        stream.simulcastTargets = [target]
        let text = String(decoding: LiveStreamJSON.webhookBody(LiveStreamJSON(stream, simulcastStatus: { _ in SimulcastStatus(state: .broadcasting, severity: nil) })), as: UTF8.self)
        #expect(text.contains(#""simulcast_targets":[{"id":"t","status":"broadcasting","stream_key":"k","url":"rtmp://h/app"}]"#))
    }
}

@Suite struct SimulcastTargetStoreTests {
    @Test func muxsRulesHoldInTheStore() async throws {
        let store = LiveStreamStore()
        let targets = SimulcastTargetStore(store: store)
        var new = NewLiveStream()
        new.simulcastTargets = [SimulcastTarget(id: "", url: "rtmp://h/a", streamKey: "k", passthrough: nil)]
        let stream = try await store.create(new).stream
        #expect(stream.simulcastTargets?.count == 1 && stream.simulcastTargets?.first?.id.isEmpty == false)
        for n in 2...6 { _ = try await targets.create(liveStreamID: stream.id, url: "rtmp://h/\(n)", streamKey: nil, passthrough: nil).get() }
        #expect(try await targets.create(liveStreamID: stream.id, url: "rtmp://h/7", streamKey: nil, passthrough: nil) == .failure(.tooMany))
        #expect(try await targets.create(liveStreamID: "nope", url: "rtmp://h/7", streamKey: nil, passthrough: nil) == .failure(.noSuchStream))
        let listed = try await store.liveStream(id: stream.id)?.simulcastTargets ?? []
        #expect(listed.map(\.url) == ["rtmp://h/a"] + (2...6).map { "rtmp://h/\($0)" }, "in the order they were made")
        _ = try await store.setStatus(id: stream.id, .active, ingestProtocol: "rtmp")
        #expect(try await targets.delete(liveStreamID: stream.id, id: listed[0].id) == .failure(.active))
        _ = try await store.setStatus(id: stream.id, .idle)
        #expect(try await targets.delete(liveStreamID: stream.id, id: listed[0].id) == .success(listed[0]))
        #expect(try await targets.target(liveStreamID: stream.id, id: listed[0].id) == .failure(.noSuchTarget))
        _ = try await store.delete(id: stream.id)
        let left = try await store.read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM simulcast_target") }
        #expect(left == 0, "a stream's targets go with it")
    }
}
