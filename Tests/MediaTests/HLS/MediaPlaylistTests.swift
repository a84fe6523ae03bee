import Testing
@testable import Media

@Suite struct MediaPlaylistTests {
    static let sample = MediaPlaylist(
        version: 3, targetDuration: 3, mediaSequence: 41, discontinuitySequence: 2,
        segments: [
            PlaylistSegment(uri: "41.ts", duration: 180_180, discontinuity: false, programDateTime: 1_795_940_406_123),
            PlaylistSegment(uri: "42.ts", duration: 90_000 * 2 + 90 * 2),
            PlaylistSegment(uri: "43.ts", duration: 135_000, discontinuity: true, programDateTime: 1_795_940_500_000),
            PlaylistSegment(uri: "44.ts", duration: 90),
        ],
        endList: true)

    static let sampleText = """
        #EXTM3U
        #EXT-X-VERSION:3
        #EXT-X-TARGETDURATION:3
        #EXT-X-MEDIA-SEQUENCE:41
        #EXT-X-DISCONTINUITY-SEQUENCE:2
        #EXT-X-PROGRAM-DATE-TIME:2026-11-29T08:20:06.123Z
        #EXTINF:2.002,
        41.ts
        #EXTINF:2.002,
        42.ts
        #EXT-X-DISCONTINUITY
        #EXT-X-PROGRAM-DATE-TIME:2026-11-29T08:21:40.000Z
        #EXTINF:1.500,
        43.ts
        #EXTINF:0.001,
        44.ts
        #EXT-X-ENDLIST

        """

    @Test func rendersGoldenText() {
        #expect(Self.sample.render() == Self.sampleText)
    }

    @Test func liveRenderOmitsZeroDiscontinuitySequenceAndEndList() {
        let playlist = MediaPlaylist(targetDuration: 2, segments: [PlaylistSegment(uri: "0.ts", duration: 180_000)])
        #expect(playlist.render() == "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:0\n#EXTINF:2.000,\n0.ts\n")
    }

    @Test func parseOfRenderIsIdentity() throws {
        #expect(try MediaPlaylist(parsing: Self.sample.render()) == Self.sample)
        let empty = MediaPlaylist(targetDuration: 2)
        #expect(try MediaPlaylist(parsing: empty.render()) == empty)
    }

    @Test func parsesForeignPlaylists() throws {
        let text = "#EXTM3U\r\n#EXT-X-TARGETDURATION:6\r\n#EXT-X-PLAYLIST-TYPE:EVENT\r\n# a comment\r\n\r\n#EXTINF:5.0045,title\r\nhttp://x/a.ts\r\n#EXTINF:6\r\nb.ts\r\n"
        let playlist = try MediaPlaylist(parsing: text)
        #expect(playlist.version == 1)
        #expect(playlist.targetDuration == 6)
        #expect(playlist.segments == [PlaylistSegment(uri: "http://x/a.ts", duration: 5005 * 90), PlaylistSegment(uri: "b.ts", duration: 540_000)])
        #expect(!playlist.endList)
    }

    @Test(arguments: [
        ("", PlaylistError.missingHeader(firstLine: "")),
        ("#EXT-X-VERSION:3\n", .missingHeader(firstLine: "#EXT-X-VERSION:3")),
        ("#EXTM3U\n#EXTINF:2,\na.ts\n", .missingTag("#EXT-X-TARGETDURATION")),
        ("#EXTM3U\n#EXT-X-TARGETDURATION:x\n", .invalidValue(tag: "#EXT-X-TARGETDURATION", value: "x", line: 2)),
        ("#EXTM3U\n#EXT-X-MEDIA-SEQUENCE:-1\n", .invalidValue(tag: "#EXT-X-MEDIA-SEQUENCE", value: "-1", line: 2)),
        ("#EXTM3U\n#EXT-X-TARGETDURATION:2\na.ts\n", .uriWithoutDuration(uri: "a.ts", line: 3)),
        ("#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2.0,\n", .durationWithoutURI(line: 3)),
        ("#EXTM3U\n#EXTINF:-2.0,\na.ts", .invalidValue(tag: "#EXTINF", value: "-2.0,", line: 2)),
        ("#EXTM3U\n#EXTINF:2.,\na.ts", .invalidValue(tag: "#EXTINF", value: "2.,", line: 2)),
        ("#EXTM3U\n#EXTINF:1e3,\na.ts", .invalidValue(tag: "#EXTINF", value: "1e3,", line: 2)),
        ("#EXTM3U\n#EXTINF:99999999999999999999,\na.ts", .invalidValue(tag: "#EXTINF", value: "99999999999999999999,", line: 2)),
        ("#EXTM3U\n#EXT-X-PROGRAM-DATE-TIME:2026-02-30T00:00:00Z\n", .invalidValue(tag: "#EXT-X-PROGRAM-DATE-TIME", value: "2026-02-30T00:00:00Z", line: 2)),
    ])
    func malformedPlaylistsThrow(text: String, error: PlaylistError) {
        #expect(throws: error) { try MediaPlaylist(parsing: text) }
    }

    @Test func truncationsAndGarbageNeverCrash() {
        let text = Array(Self.sampleText.utf8)
        for length in 0...text.count {
            _ = try? MediaPlaylist(parsing: String(decoding: text.prefix(length), as: UTF8.self))
        }
        let alphabet = Array("#EXTM3U-:,.0123456789TZ+\n\r ")
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<1000 {
            let noise = String((0..<Int.random(in: 0...80, using: &generator)).map { _ in alphabet.randomElement(using: &generator)! })
            _ = try? MediaPlaylist(parsing: "#EXTM3U\n" + noise)
            _ = ProgramDateTime.parse(Substring(noise))
        }
    }

    @Test(arguments: [
        (Int64(0), "1970-01-01T00:00:00.000Z"),
        (1_795_940_406_123, "2026-11-29T08:20:06.123Z"),
        (1_709_251_199_999, "2024-02-29T23:59:59.999Z"),
        (946_684_800_000, "2000-01-01T00:00:00.000Z"),
        (-1, "1969-12-31T23:59:59.999Z"),
        (-2_203_847_999_500, "1900-03-01T12:00:00.500Z"),
    ])
    func programDateTimeFormatsAndParsesUTC(milliseconds: Int64, text: String) {
        #expect(ProgramDateTime.format(millisecondsSinceEpoch: milliseconds) == text)
        #expect(ProgramDateTime.parse(Substring(text)) == milliseconds)
    }

    @Test(arguments: [
        ("2026-11-29T09:20:06.123+01:00", Int64(1_795_940_406_123)),
        ("2026-11-29T03:50:06.123-0430", 1_795_940_406_123),
        ("2026-11-29T08:20:06Z", 1_795_940_406_000),
        ("2026-11-29T08:20:06.1239Z", 1_795_940_406_123),
        ("2026-11-29T08:20:06.1Z", 1_795_940_406_100),
    ])
    func programDateTimeParsesOffsetsAndFractions(text: String, milliseconds: Int64) {
        #expect(ProgramDateTime.parse(Substring(text)) == milliseconds)
    }

    @Test(arguments: ["2026-11-29T08:20:06", "2026-13-01T00:00:00Z", "2026-11-29 08:20:06Z", "2026-11-29T08:20:06.Z",
                      "2026-11-29T24:00:00Z", "2026-11-29T08:20:06+1:00", "2026-11-29T08:20:06Zjunk", "2023-02-29T00:00:00Z"])
    func programDateTimeRejectsInvalid(text: String) {
        #expect(ProgramDateTime.parse(Substring(text)) == nil)
    }
}

@Suite struct EventPlaylistTests {
    /// A recording's playlist file grows by appends: header, then each segment's lines; the same text
    /// as the whole playlist rendered at once, and it parses back with its type.
    @Test func appendsAddUpToTheRenderedPlaylist() throws {
        var playlist = MediaPlaylist(version: 6, targetDuration: 2)
        playlist.playlistType = .event
        var text = playlist.renderHeader()
        var map: String?
        let segments = [
            PlaylistSegment(uri: "0.m4s", duration: 180_000, programDateTime: 1_700_000_000_000, map: "init0.mp4"),
            PlaylistSegment(uri: "1.m4s", duration: 180_000, programDateTime: 1_700_000_002_000, map: "init0.mp4"),
            PlaylistSegment(uri: "2.m4s", duration: 90_000, discontinuity: true, programDateTime: 1_700_000_010_000, map: "init1.mp4"),
        ]
        for segment in segments {
            text += MediaPlaylist.render(segment, after: &map)
            playlist.segments.append(segment)
        }
        #expect(text.contains("#EXT-X-PLAYLIST-TYPE:EVENT\n"))
        #expect(text.components(separatedBy: "#EXT-X-MAP").count == 3, "a MAP where it changes, and only there")
        let parsed = try MediaPlaylist(parsing: text)
        #expect(parsed.playlistType == .event && parsed.segments == segments)
        playlist.playlistType = .vod
        playlist.endList = true
        let final = try MediaPlaylist(parsing: playlist.render())
        #expect(final.playlistType == .vod && final.endList && final.segments == segments)
        #expect(throws: PlaylistError.self) { _ = try MediaPlaylist(parsing: "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-PLAYLIST-TYPE:LIVE\n") }
    }
}
