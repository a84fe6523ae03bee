import Foundation
import Logging
import Media
import NIOCore
import Testing
@testable import Appliance

@Suite struct StreamPackagerTests {
    let root = NSTemporaryDirectory() + "onair-packager-\(UUID().uuidString)"
    let record = try! AVCDecoderConfigurationRecord(parsing: ByteBuffer(bytes: [0x01, 0x64, 0x00, 0x1F, 0xFF, 0xE1, 0x00, 0x04, 0x67, 0x64, 0x00, 0x1F, 0x01, 0x00, 0x03, 0x68, 0xEE, 0x3C]))

    func packager(playlistLength: Int = 3, grace: Int = 2, perStream: Int64 = 1 << 30, budget: HLSBudget = HLSBudget(limit: 1 << 30),
                  now: Int64 = 1_700_000_000_000, resumeWithin: Double = 0) -> StreamPackager {
        StreamPackager(liveStreamID: "s1", directory: root + "/s1",
                       settings: PackagerSettings(segmentDuration: 2, playlistLength: playlistLength, deleteGraceSegments: grace, maxBytesPerStream: perStream),
                       budget: budget, wallClock: { now }, logger: Logger(label: "test"), resumeWithin: resumeWithin)
    }

    /// 30 fps video with a keyframe every 2 s, `seconds` long, starting at `start` seconds.
    func feed(_ packager: StreamPackager, session: Int, seconds: Int, start: Int = 0, frameBytes: Int = 1000) {
        for frame in (start * 30)..<((start + seconds) * 30) {
            let key = frame % 60 == 0
            var payload = ByteBuffer()
            payload.writeInteger(UInt32(frameBytes))
            payload.writeInteger(UInt8(key ? 0x65 : 0x41))
            payload.writeRepeatingByte(0x88, count: frameBytes - 1)
            let dts = Int64(frame) * 3000
            packager.append(MediaSample(kind: .video, dts: dts, pts: dts, isKeyframe: key, payload: payload), session: session)
        }
    }

    func files() -> Set<String> {
        Set((try? FileManager.default.contentsOfDirectory(atPath: root + "/s1")) ?? [])
    }

    func playlistText() throws -> String { try String(contentsOfFile: root + "/s1/index.m3u8", encoding: .utf8) }

    @Test func slidingWindowWithGraceAndEndlist() throws {
        defer { try? FileManager.default.removeItem(atPath: root) }
        let packager = packager()
        packager.sessionStarted(1)
        packager.tracks(video: .h264(record), audio: nil, session: 1)
        feed(packager, session: 1, seconds: 20)
        // 9 segments closed (the 10th is open): 3 listed, 2 in grace, the rest deleted.
        let playlist = try MediaPlaylist(parsing: try playlistText())
        #expect(playlist.segments.count == 3)
        #expect(playlist.mediaSequence == 6)
        #expect(playlist.segments.allSatisfy { $0.duration == 2 * 90_000 })
        #expect(files().filter { $0.hasSuffix(".ts") }.count == 5)
        #expect(!files().contains { $0.hasSuffix(".tmp") }, "no temporary files left")
        packager.sessionEnded(1)
        packager.broadcastEnded()
        let final = try MediaPlaylist(parsing: try playlistText())
        #expect(final.endList)
        let lastDuration = try #require(final.segments.last).duration
        #expect(lastDuration == 180_000, "\(final.segments.map(\.duration)) \(lastDuration)")
    }

    @Test func reconnectAddsOneDiscontinuityAndKeepsSequenceNumbersRising() throws {
        defer { try? FileManager.default.removeItem(atPath: root) }
        let packager = packager(playlistLength: 20)
        packager.sessionStarted(1)
        packager.tracks(video: .h264(record), audio: nil, session: 1)
        feed(packager, session: 1, seconds: 6)
        packager.sessionEnded(1)
        packager.sessionStarted(2)
        packager.tracks(video: .h264(record), audio: nil, session: 2)
        feed(packager, session: 2, seconds: 6)  // timestamps restart at 0
        feed(packager, session: 1, seconds: 2, start: 6)  // a stale session is ignored
        packager.sessionEnded(2)
        packager.broadcastEnded()
        let playlist = try MediaPlaylist(parsing: try playlistText())
        #expect(playlist.segments.count == 6)
        #expect(playlist.segments.map(\.discontinuity) == [false, false, false, true, false, false])
        let numbers = playlist.segments.map { Int($0.uri.split(separator: "-").last!.dropLast(3))! }
        #expect(numbers == Array(0..<6))
    }

    @Test func aBroadcastInterruptedByACrashContinuesAfterADiscontinuity() throws {
        defer { try? FileManager.default.removeItem(atPath: root) }
        let budget = HLSBudget(limit: 1 << 30)
        do {
            // The first process dies mid-broadcast: no sessionEnded, no ENDLIST.
            let crashed = packager(playlistLength: 4, budget: budget)
            crashed.sessionStarted(1)
            crashed.tracks(video: .h264(record), audio: nil, session: 1)
            feed(crashed, session: 1, seconds: 12)
        }
        #expect(budget.bytesUsed == 0)
        let before = try MediaPlaylist(parsing: try playlistText())
        #expect(!before.endList && before.segments.count == 4)
        let now = Int64(Date().timeIntervalSince1970 * 1000)
        let resumed = packager(playlistLength: 4, budget: budget, now: now, resumeWithin: 60)
        #expect(resumed.playlist.segments == before.segments)
        #expect(resumed.isPlayable, "players keep the old segments until new ones come")
        let listedBytes = before.segments.reduce(Int64(0)) { total, segment in
            total + Int64((try? FileManager.default.attributesOfItem(atPath: root + "/s1/" + segment.uri)[.size] as? Int) ?? 0)
        }
        #expect(listedBytes > 0 && budget.bytesUsed == listedBytes, "the kept segments count against the budget")
        #expect(files().filter { $0.hasSuffix(".ts") }.count == 4, "grace leftovers are removed, listed segments kept")
        resumed.sessionStarted(1)
        resumed.tracks(video: .h264(record), audio: nil, session: 1)
        feed(resumed, session: 1, seconds: 6)  // the encoder's timestamps restart at 0
        let after = try MediaPlaylist(parsing: try playlistText())
        #expect(after.mediaSequence == before.mediaSequence + 2)
        #expect(after.segments.map(\.discontinuity) == [false, false, true, false])
        #expect(after.segments.prefix(2) == before.segments.suffix(2))
    }

    @Test func aResumeKeepsTheNewestSegmentsStillOnDisk() throws {
        defer { try? FileManager.default.removeItem(atPath: root) }
        do {
            let crashed = packager(playlistLength: 4)
            crashed.sessionStarted(1)
            crashed.tracks(video: .h264(record), audio: nil, session: 1)
            feed(crashed, session: 1, seconds: 12)
        }
        let before = try MediaPlaylist(parsing: try playlistText())
        try FileManager.default.removeItem(atPath: root + "/s1/" + before.segments[1].uri)  // lost with the crash
        let resumed = packager(playlistLength: 4, now: Int64(Date().timeIntervalSince1970 * 1000), resumeWithin: 60)
        #expect(resumed.playlist.segments == Array(before.segments.suffix(2)))
        #expect(resumed.playlist.mediaSequence == before.mediaSequence + 2, "sequence numbers stay right")
    }

    @Test func anOldOrFinishedPlaylistIsNotContinued() throws {
        defer { try? FileManager.default.removeItem(atPath: root) }
        do {
            let crashed = packager()
            crashed.sessionStarted(1)
            crashed.tracks(video: .h264(record), audio: nil, session: 1)
            feed(crashed, session: 1, seconds: 8)
        }
        let later = Int64(Date().timeIntervalSince1970 * 1000) + 120_000
        #expect(packager(now: later, resumeWithin: 60).playlist.segments.isEmpty, "interrupted two minutes ago")
        #expect(files().isEmpty)

        let finished = packager()
        finished.sessionStarted(1)
        finished.tracks(video: .h264(record), audio: nil, session: 1)
        feed(finished, session: 1, seconds: 8)
        finished.broadcastEnded()
        #expect(packager(now: Int64(Date().timeIntervalSince1970 * 1000), resumeWithin: 60).playlist.segments.isEmpty)
    }

    @Test func byteBudgetDropsTheOldestSegments() throws {
        defer { try? FileManager.default.removeItem(atPath: root) }
        // Each 2 s segment is ~60 KB; allow about four of them for this stream.
        let packager = packager(playlistLength: 2, grace: 100, perStream: 260_000)
        packager.sessionStarted(1)
        packager.tracks(video: .h264(record), audio: nil, session: 1)
        feed(packager, session: 1, seconds: 30)
        let segments = files().filter { $0.hasSuffix(".ts") }
        let bytes = try segments.reduce(0) { $0 + ((try FileManager.default.attributesOfItem(atPath: root + "/s1/" + $1)[.size] as? Int) ?? 0) }
        #expect(bytes <= 260_000)
        #expect(segments.count >= 2, "the playlist's own segments are kept")
        #expect(try MediaPlaylist(parsing: try playlistText()).segments.count == 2)
    }

    @Test func budgetSmallerThanThePlaylistShortensThePlaylist() throws {
        defer { try? FileManager.default.removeItem(atPath: root) }
        let shared = HLSBudget(limit: 200_000)
        let packager = packager(playlistLength: 10, grace: 0, budget: shared)
        packager.sessionStarted(1)
        packager.tracks(video: .h264(record), audio: nil, session: 1)
        feed(packager, session: 1, seconds: 30)
        let playlist = try MediaPlaylist(parsing: try playlistText())
        let listed = Set(playlist.segments.map(\.uri))
        #expect(playlist.segments.count < 10 && playlist.segments.count >= 1)
        #expect(playlist.mediaSequence + playlist.segments.count == 14, "sequence numbers keep counting")
        #expect(Set(files().filter { $0.hasSuffix(".ts") }) == listed, "every listed segment exists, nothing else")
        #expect(shared.bytesUsed <= 200_000)
    }
}
