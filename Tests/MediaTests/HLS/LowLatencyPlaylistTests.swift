import Testing
@testable import Media

/// LL-HLS playlists (RFC 8216bis §4.4.3.7–8, §4.4.4.9, §4.4.5) and blocking reload decisions (§6.2.5.2).
@Suite struct LowLatencyPlaylistTests {
    static let part: Int64 = 30_240  // 0.336 s

    static func parts(_ first: Int, _ count: Int) -> [PlaylistPart] {
        (first..<(first + count)).map { PlaylistPart(uri: "x-p\($0).m4s", duration: 30_000, independent: $0 % 6 == 0) }
    }

    /// Segments 10...13 of 2 s (parts 60...83), the open segment 14 with two parts.
    static var live: MediaPlaylist {
        var playlist = MediaPlaylist(version: 6, targetDuration: 2, mediaSequence: 10, discontinuitySequence: 1)
        playlist.segments = (0..<4).map { index in
            PlaylistSegment(uri: "x-\(10 + index).m4s", duration: 180_000, discontinuity: index == 2,
                            programDateTime: 1_795_940_400_000 + Int64(index) * 2000, map: index < 2 ? "x-init0.mp4" : "x-init1.mp4",
                            parts: parts(60 + 6 * index, 6))
        }
        playlist.serverControl = .init(partTarget: part, partHoldBack: 3 * part, canSkipUntil: 12)
        playlist.openSegment = .init(programDateTime: 1_795_940_408_000, map: "x-init1.mp4", parts: parts(84, 2))
        playlist.preloadHint = "x-p86.m4s"
        return playlist
    }

    @Test func rendersTheGoldenLivePlaylist() {
        let text = Self.live.listingParts(within: 3 * 180_000).render()
        let lines = text.split(separator: "\n").map(String.init)
        #expect(Array(lines.prefix(8)) == [
            "#EXTM3U", "#EXT-X-VERSION:6", "#EXT-X-TARGETDURATION:2",
            "#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=1.008,CAN-SKIP-UNTIL=12",
            "#EXT-X-PART-INF:PART-TARGET=0.33600", "#EXT-X-MEDIA-SEQUENCE:10", "#EXT-X-DISCONTINUITY-SEQUENCE:1",
            "#EXT-X-MAP:URI=\"x-init0.mp4\"",
        ])
        #expect(Array(lines.suffix(5)) == [
            "x-13.m4s", "#EXT-X-PROGRAM-DATE-TIME:2026-11-29T08:20:08.000Z",
            "#EXT-X-PART:DURATION=0.33333,URI=\"x-p84.m4s\",INDEPENDENT=YES",
            "#EXT-X-PART:DURATION=0.33333,URI=\"x-p85.m4s\"", "#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"x-p86.m4s\"",
        ])
        // The new MAP goes after the discontinuity, once; parts are listed for 3 target durations
        // from the end: the open segment's 0.67 s and segments 13, 12 and 11.
        #expect(lines.filter { $0.hasPrefix("#EXT-X-MAP") } == ["#EXT-X-MAP:URI=\"x-init0.mp4\"", "#EXT-X-MAP:URI=\"x-init1.mp4\""])
        #expect(lines.firstIndex(of: "#EXT-X-DISCONTINUITY")! + 1 == lines.firstIndex(of: "#EXT-X-MAP:URI=\"x-init1.mp4\""))
        #expect(lines.filter { $0.hasPrefix("#EXT-X-PART:") }.count == 3 * 6 + 2)
        #expect(!text.contains("x-p65.m4s") && text.contains("x-p66.m4s"))
    }

    @Test func anEndedPlaylistHasNoHintAndNoOpenParts() {
        var playlist = Self.live
        playlist.endList = true
        let text = playlist.listingParts(within: 0).render()
        #expect(!text.contains("PRELOAD-HINT") && !text.contains("#EXT-X-PART:") && text.hasSuffix("x-13.m4s\n#EXT-X-ENDLIST\n"))
    }

    @Test func partDurationsNeverPrintAboveThePartTarget() {
        #expect(MediaPlaylist.decimal(30_239, places: 5, up: false) == "0.33598")
        #expect(MediaPlaylist.decimal(30_240, places: 5, up: true) == "0.33600")
        #expect(MediaPlaylist.decimal(30_241, places: 5, up: true) == "0.33602")
        #expect(MediaPlaylist.decimal(3 * 30_030, places: 3, up: true) == "1.001")
    }

    @Test func deltaSkipsSegmentsBeyondTheBoundaryAndKeepsMediaSequence() throws {
        var playlist = Self.live
        playlist.segments = (0..<10).map { PlaylistSegment(uri: "x-\(10 + $0).m4s", duration: 180_000, map: "x-init1.mp4") }
        let delta = try #require(playlist.delta())
        // 12 s boundary: the last 6 segments end within it, and the one that starts within it stays too.
        #expect(delta.skippedSegments == 3)
        let text = delta.render()
        #expect(text.contains("#EXT-X-VERSION:9\n"))
        #expect(text.contains("#EXT-X-MEDIA-SEQUENCE:10\n#EXT-X-DISCONTINUITY-SEQUENCE:1\n#EXT-X-SKIP:SKIPPED-SEGMENTS=3\n"))
        #expect(!text.contains("x-12.m4s") && text.contains("x-13.m4s"))
        #expect(!text.contains("EXT-X-MAP"), "the MAP the skipped segments carried is not repeated")
        var ended = playlist
        ended.endList = true
        #expect(ended.delta() == nil)
        playlist.serverControl?.canSkipUntil = 0
        #expect(playlist.delta() == nil)
    }

    @Test func mapIsParsedAndCarriedToEverySegment() throws {
        let parsed = try MediaPlaylist(parsing: Self.live.render())
        #expect(parsed.segments.map(\.map) == ["x-init0.mp4", "x-init0.mp4", "x-init1.mp4", "x-init1.mp4"])
        #expect(parsed.segments.map(\.uri) == ["x-10.m4s", "x-11.m4s", "x-12.m4s", "x-13.m4s"])
    }

    // Last complete segment L = 13 with 6 parts; open segment 14 with 2 parts; advance limit 9.
    @Test(arguments: [
        (13, nil, BlockingReload.Decision.answer), (14, nil, .hold), (15, nil, .hold), (16, nil, .badRequest),
        (12, 99, .answer), (13, 5, .answer), (13, 6, .answer), (14, 1, .answer), (14, 2, .hold),
        (14, 10, .hold), (14, 11, .badRequest), (15, 0, .hold), (15, 8, .hold), (15, 9, .badRequest),
        (0, 0, .answer), (99, 0, .badRequest),
    ] as [(Int, Int?, BlockingReload.Decision)])
    func blockingReloadDecisions(msn: Int, part: Int?, expected: BlockingReload.Decision) {
        #expect(BlockingReload(mediaSequence: msn, part: part).decision(in: Self.live) == expected)
    }

    @Test func aPartPastTheEndOfAClosedSegmentWaitsForTheNextSegmentsFirstPart() {
        var playlist = Self.live
        playlist.openSegment = nil
        #expect(BlockingReload(mediaSequence: 13, part: 6).decision(in: playlist) == .hold)
        playlist.endList = true
        #expect(BlockingReload(mediaSequence: 99, part: 0).decision(in: playlist) == .answer, "ENDLIST: directives are ignored")
    }

    @Test(arguments: [
        (nil, nil, nil), ("5", nil, BlockingReload(mediaSequence: 5)), ("5", "2", BlockingReload(mediaSequence: 5, part: 2)),
        ("99999999999999999999", "0", BlockingReload(mediaSequence: Int.max, part: 0)),
    ] as [(String?, String?, BlockingReload?)])
    func parsesDirectives(msn: String?, part: String?, expected: BlockingReload?) throws {
        #expect(try BlockingReload.parse(msn: msn, part: part) == expected)
    }

    @Test(arguments: [(nil, "1"), ("-1", nil), ("1.5", nil), ("", nil), ("5", "x"), ("123456789012345678901", nil)] as [(String?, String?)])
    func refusesBadDirectives(msn: String?, part: String?) {
        #expect(throws: BlockingReloadError.self) { try BlockingReload.parse(msn: msn, part: part) }
    }
}
