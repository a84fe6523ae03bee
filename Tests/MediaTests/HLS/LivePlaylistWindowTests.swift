import Testing
@testable import Media

@Suite struct LivePlaylistWindowTests {
    static func segment(_ index: Int, seconds: Double = 2, discontinuity: Bool = false) -> PlaylistSegment {
        PlaylistSegment(uri: "\(index).ts", duration: Int64(seconds * 90_000), discontinuity: discontinuity)
    }

    @Test func slidesAndCountsMediaSequence() {
        var window = LivePlaylistWindow(length: 3, targetDuration: 180_000)
        #expect(window.nextSequenceNumber == 0)
        var evicted: [PlaylistSegment] = []
        for index in 0..<5 {
            #expect(window.nextSequenceNumber == index)
            evicted += window.append(Self.segment(index))
        }
        #expect(evicted.map(\.uri) == ["0.ts", "1.ts"])
        #expect(window.playlist.mediaSequence == 2)
        #expect(window.playlist.segments.map(\.uri) == ["2.ts", "3.ts", "4.ts"])
        #expect(window.nextSequenceNumber == 5)
        #expect(window.playlist.discontinuitySequence == 0)
    }

    @Test func discontinuitySequenceGrowsWhenTaggedSegmentLeaves() {
        var window = LivePlaylistWindow(length: 2, targetDuration: 180_000)
        let flags = [false, true, false, true, true, false]
        var sequences: [Int] = []
        for (index, flag) in flags.enumerated() {
            _ = window.append(Self.segment(index, discontinuity: flag))
            sequences.append(window.playlist.discontinuitySequence)
        }
        // Evictions: 0 (no tag), 1 (tag), 2, 3 (tag), 4 (tag).
        #expect(sequences == [0, 0, 0, 1, 1, 2])
        #expect(window.playlist.segments.map(\.discontinuity) == [true, false])
        // A player's view stays consistent: discontinuity number of segment 5 is 2 + tags in window before it (1) = 3 = all tags up to 5.
        #expect(window.playlist.mediaSequence == 4)
    }

    @Test(arguments: [
        (Int64(180_000), [2.0, 2.4, 2.5, 1.0, 3.6], [2, 2, 3, 3, 4]),  // rounds to nearest, never decreases
        (135_000, [1.0], [2]),  // configured 1.5 s rounds up to 2
        (0, [0.2], [1]),  // at least 1
        (180_000, [2.4996], [3]),  // 224964 ticks: rendered as 2.500 (nearest ms) which rounds to 3
    ] as [(Int64, [Double], [Int])])
    func targetDurationCoversEveryEXTINF(configured: Int64, durations: [Double], targets: [Int]) {
        var window = LivePlaylistWindow(length: 2, targetDuration: configured)
        var seen: [Int] = []
        for (index, seconds) in durations.enumerated() {
            _ = window.append(Self.segment(index, seconds: seconds))
            seen.append(window.playlist.targetDuration)
        }
        #expect(seen == targets)
    }

    @Test func endAddsEndListAndRendersParsably() throws {
        var window = LivePlaylistWindow(length: 3, targetDuration: 180_000)
        _ = window.append(Self.segment(0))
        window.end()
        #expect(window.playlist.endList)
        #expect(try MediaPlaylist(parsing: window.playlist.render()) == window.playlist)
        _ = window.append(Self.segment(1, discontinuity: true))
        #expect(!window.playlist.endList)
    }

    @Test func resumesFromParsedPlaylist() throws {
        var window = LivePlaylistWindow(length: 3, targetDuration: 180_000)
        for index in 0..<6 { _ = window.append(Self.segment(index, discontinuity: index == 3 || index == 4)) }
        window.end()
        let parsed = try MediaPlaylist(parsing: window.playlist.render())
        var resumed = LivePlaylistWindow(length: 3, targetDuration: 180_000, resuming: parsed)
        #expect(resumed.nextSequenceNumber == 6)
        #expect(!resumed.playlist.endList)
        #expect(resumed.playlist.segments == window.playlist.segments)
        _ = resumed.append(Self.segment(6, discontinuity: true))
        #expect(resumed.playlist.mediaSequence == 4 && resumed.playlist.discontinuitySequence == 1)
    }

    @Test func removeOldestShortensTheWindowAndKeepsSequencesRight() {
        var window = LivePlaylistWindow(length: 5, targetDuration: 180_000)
        _ = window.append(Self.segment(0, discontinuity: true))
        _ = window.append(Self.segment(1))
        #expect(window.removeOldest()?.uri == "0.ts")
        #expect(window.playlist.mediaSequence == 1)
        #expect(window.playlist.discontinuitySequence == 1)
        #expect(window.nextSequenceNumber == 2)
        #expect(window.removeOldest()?.uri == "1.ts")
        #expect(window.removeOldest() == nil)
        #expect(window.nextSequenceNumber == 2)
    }
}
