import CompressNIO
import Foundation
import Logging
import Synchronization
import Media
import NIOCore
import Testing
@testable import Appliance

/// The packager with `latency_mode: low` (CMAF parts) and `reduced` (CMAF segments): parts in memory,
/// blocking reloads and hinted parts held until published, init sections on disk.
@Suite struct LowLatencyPackagerTests {
    let root = NSTemporaryDirectory() + "onair-ll-\(UUID().uuidString)"
    let base = StreamPackagerTests()

    func packager(_ mode: LiveStream.LatencyMode = .low, holdLimit: HoldLimit = HoldLimit(limit: 100),
                  now: Int64 = 1_700_000_000_000, resumeWithin: Double = 0) -> StreamPackager {
        let settings = PackagerFactory.settings(PackagerSettings(segmentDuration: 2, playlistLength: 10, deleteGraceSegments: 2,
                                                                 maxBytesPerStream: 1 << 30, partDuration: 0.334), for: mode)
        return StreamPackager(liveStreamID: "s1", directory: root + "/s1", settings: settings, budget: HLSBudget(limit: 1 << 30),
                              wallClock: { now }, logger: Logger(label: "test"), resumeWithin: resumeWithin, holdLimit: holdLimit)
    }

    func started(_ packager: StreamPackager) -> StreamPackager {
        packager.sessionStarted(1)
        packager.tracks(video: .h264(base.record), audio: nil, session: 1)
        return packager
    }

    /// Frames `first..<first+count` of 30 fps video with a keyframe every 2 s.
    func feed(_ packager: StreamPackager, frames: Range<Int>) {
        for frame in frames {
            let key = frame % 60 == 0
            var payload = ByteBuffer()
            payload.writeInteger(UInt32(100))
            payload.writeInteger(UInt8(key ? 0x65 : 0x41))
            payload.writeRepeatingByte(0x88, count: 99)
            let dts = Int64(frame) * 3000
            packager.append(MediaSample(kind: .video, dts: dts, pts: dts, isKeyframe: key, payload: payload), session: 1)
        }
    }

    func text(_ result: (answer: StreamPackager.PlaylistAnswer, early: Bool)) throws -> String {
        try text(result.answer)
    }

    func text(_ answer: StreamPackager.PlaylistAnswer) throws -> String {
        guard case .playlist(let bytes, _) = answer else { throw Failure(answer: "\(answer)") }
        return String(buffer: bytes)
    }

    struct Failure: Error { var answer: String }

    /// Waits (yielding, no sleeping on a clock) until `packager` holds `count` requests.
    func holding(_ packager: StreamPackager, _ count: Int) async {
        for _ in 0..<100_000 where packager.held.count < count { await Task.yield() }
    }

    @Test func lowListsPartsFromMemoryWithServerControlAndAHint() async throws {
        defer { try? FileManager.default.removeItem(atPath: root) }
        let packager = started(packager())
        feed(packager, frames: 0..<200)  // 3 segments, and 2 parts of the 4th
        let text = try text(await packager.mediaPlaylist(reload: nil, delta: false))
        #expect(text.contains("#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=1.008,CAN-SKIP-UNTIL=12\n#EXT-X-PART-INF:PART-TARGET=0.33600\n"))
        #expect(text.contains("#EXT-X-MAP:URI=\"") && text.contains("-init0.mp4\""))
        #expect(text.contains("-p18.m4s\",INDEPENDENT=YES") && text.hasSuffix("-p20.m4s\"\n"))
        // Every listed part is served whole from memory; the next but one is not found at once.
        for uri in text.split(separator: "\n").filter({ $0.hasPrefix("#EXT-X-PART:") }).map({ String($0.split(separator: "\"")[1]) }) {
            guard case .part(let bytes) = await packager.part(named: uri) else { Issue.record("\(uri) missing"); continue }
            #expect(try BoxReader.read(bytes).map(\.type.description) == ["moof", "mdat"])
        }
        #expect(await packager.part(named: packager.partURI(21)) == .notFound)
        #expect(await packager.part(named: "nope-p1.m4s") == .notFound)
        // Init section and segments are on tmpfs.
        let names = try FileManager.default.contentsOfDirectory(atPath: root + "/s1")
        #expect(names.filter { $0.hasSuffix(".m4s") }.count == 3 && names.contains { $0.hasSuffix("-init0.mp4") })
    }

    @Test func aBlockingReloadIsHeldUntilItsPartIsPublished() async throws {
        defer { try? FileManager.default.removeItem(atPath: root) }
        let packager = started(packager())
        feed(packager, frames: 0..<200)
        // Parts 18 and 19 of segment 3 exist; ask for its part 3 (stream-wide part 21).
        async let answer = packager.mediaPlaylist(reload: BlockingReload(mediaSequence: 3, part: 3), delta: false)
        await holding(packager, 1)
        #expect(packager.held.count == 1)
        feed(packager, frames: 200..<210)  // part 20
        #expect(packager.held.count == 1, "part 20 is not part 3 of segment 3")
        feed(packager, frames: 210..<220)  // part 21
        let text = try text(await answer)
        #expect(text.contains("-p21.m4s\"\n#EXT-X-PRELOAD-HINT"))
        #expect(packager.held.count == 0)
        #expect(await packager.mediaPlaylist(reload: BlockingReload(mediaSequence: 9), delta: false).answer == .badRequest("_HLS_msn=9 is too far ahead of the live edge"))
    }

    @Test func theHintedPartIsHeldAndSentWholeOnceComplete() async throws {
        defer { try? FileManager.default.removeItem(atPath: root) }
        let packager = started(packager())
        feed(packager, frames: 0..<95)
        async let answer = packager.part(named: packager.partURI(9))
        await holding(packager, 1)
        feed(packager, frames: 95..<105)
        guard case .part(let bytes) = await answer else { Issue.record("no part"); return }
        let trun = try #require(BoxReader.read(bytes).first?.first(["traf", "trun"]))
        #expect(trun.body.getInteger(at: trun.body.readerIndex + 4, as: UInt32.self) == 10, "ten frames, all of them")
    }

    @Test func theEndWakesHeldRequestsAndStopsListingParts() async throws {
        defer { try? FileManager.default.removeItem(atPath: root) }
        let packager = started(packager())
        feed(packager, frames: 0..<200)
        async let reload = packager.mediaPlaylist(reload: BlockingReload(mediaSequence: 4, part: 0), delta: false)
        async let part = packager.part(named: packager.partURI(20))
        await holding(packager, 2)
        packager.sessionEnded(1)
        packager.broadcastEnded()
        let text = try text(await reload)
        #expect(text.hasSuffix("#EXT-X-ENDLIST\n") && !text.contains("#EXT-X-PART:") && !text.contains("PRELOAD-HINT"))
        #expect(await part == .notFound)
    }

    @Test func heldRequestsAreBoundedAndTimeOut() async throws {
        defer { try? FileManager.default.removeItem(atPath: root) }
        let full = started(packager(holdLimit: HoldLimit(limit: 0)))
        feed(full, frames: 0..<200)
        // Over the limit: answered at once with the playlist as it is, marked early (not to be cached).
        let early = await full.mediaPlaylist(reload: BlockingReload(mediaSequence: 4, part: 0), delta: false)
        #expect(try text(early.answer).hasSuffix("-p20.m4s\"\n") && early.early)
        #expect(PlaybackController.playlistCacheControl(full, blocking: true, early: true) == "no-store")
        let held = HeldRequests(limit: HoldLimit(limit: 1))
        #expect(await held.wait(timeout: .milliseconds(1)) { false } == .timedOut)
        #expect(await held.wait(timeout: .seconds(60)) { true } == .ready)
        #expect(held.count == 0 && held.limit.count == 0)
        // With one held, a second is over the limit of one.
        let flag = Mutex(false)
        async let first = held.wait(timeout: .seconds(60)) { flag.withLock { $0 } }
        for _ in 0..<100_000 where held.count < 1 { await Task.yield() }
        #expect(await held.wait(timeout: .seconds(60)) { false } == .overLimit)
        flag.withLock { $0 = true }
        held.wake()
        #expect(await first == .ready)
        #expect(held.limit.count == 0)
    }

    @Test func playlistsAreGzippedOncePerVersion() async throws {
        defer { try? FileManager.default.removeItem(atPath: root) }
        let packager = started(packager())
        feed(packager, frames: 0..<200)
        guard case .playlist(let first, true) = await packager.mediaPlaylist(reload: nil, delta: false, gzip: true).answer,
              case .playlist(let second, true) = await packager.mediaPlaylist(reload: nil, delta: false, gzip: true).answer,
              case .playlist(let plain, false) = await packager.mediaPlaylist(reload: nil, delta: false).answer else {
            Issue.record("not gzipped")
            return
        }
        #expect(first.readableBytes < plain.readableBytes)
        first.withUnsafeReadableBytes { a in second.withUnsafeReadableBytes { b in #expect(a.baseAddress == b.baseAddress, "compressed once") } }
        var compressed = first
        #expect(try compressed.decompress(with: .gzip) == plain)
        feed(packager, frames: 200..<210)  // a new part: a new version
        guard case .playlist(let third, true) = await packager.mediaPlaylist(reload: nil, delta: false, gzip: true).answer else { return }
        #expect(third != first)
    }

    @Test func reducedIsCMAFWithoutPartsAndDirectivesAreIgnored() async throws {
        defer { try? FileManager.default.removeItem(atPath: root) }
        let packager = started(packager(.reduced))
        feed(packager, frames: 0..<200)
        let text = try text(await packager.mediaPlaylist(reload: BlockingReload(mediaSequence: 99), delta: true))
        #expect(!text.contains("SERVER-CONTROL") && !text.contains("#EXT-X-PART") && text.contains("#EXT-X-MAP:URI="))
        #expect(text.contains("#EXT-X-VERSION:6\n") && text.contains(".m4s\n"))
    }

    @Test func anInterruptedCMAFBroadcastKeepsItsInitSection() throws {
        defer { try? FileManager.default.removeItem(atPath: root) }
        do {
            let crashed = started(packager())
            feed(crashed, frames: 0..<400)
        }
        let resumed = packager(now: Int64(Date().timeIntervalSince1970 * 1000), resumeWithin: 60)
        let maps = Set(resumed.playlist.segments.compactMap(\.map))
        #expect(maps.count == 1 && !resumed.playlist.segments.isEmpty)
        let names = try FileManager.default.contentsOfDirectory(atPath: root + "/s1")
        #expect(names.contains(maps.first!))
    }
}
