import Testing
@testable import Media

@Suite struct PlaylistTimelineTests {
    static let second = MediaTime.timescale

    /// Segments of 2 s, 2 s, 1 s, 2 s; the third after a discontinuity, the fourth with another init section.
    static var playlist: MediaPlaylist {
        var playlist = MediaPlaylist(version: 6, targetDuration: 2)
        playlist.segments = [
            PlaylistSegment(uri: "a.m4s", duration: 2 * second, map: "i1.mp4"),
            PlaylistSegment(uri: "b.m4s", duration: 2 * second, map: "i1.mp4"),
            PlaylistSegment(uri: "c.m4s", duration: 1 * second, discontinuity: true, map: "i1.mp4"),
            PlaylistSegment(uri: "d.m4s", duration: 2 * second, map: "i2.mp4"),
        ]
        return playlist
    }

    @Test func entriesFollowOneAnotherFromTheStart() {
        let timeline = PlaylistTimeline(Self.playlist, start: 10 * Self.second)
        #expect(timeline.entries.map(\.start) == [10, 12, 14, 15].map { $0 * Self.second })
        #expect(timeline.start == 10 * Self.second && timeline.end == 17 * Self.second && timeline.duration == 7 * Self.second)
        #expect(PlaylistTimeline(MediaPlaylist(version: 3, targetDuration: 2)).locate(0) == nil)
    }

    @Test(arguments: [
        (0.0, 0, 0.0),        // before the start: the first segment's start
        (10.0, 0, 0.0),
        (11.5, 0, 1.5),
        (12.0, 1, 0.0),       // a boundary belongs to the later segment
        (14.99, 2, 0.99),
        (16.0, 3, 1.0),
        (99.0, 3, 2.0),       // past the end: the last segment's last moment
    ])
    func locateFindsTheSegmentShowingATime(seconds: Double, index: Int, offset: Double) {
        let timeline = PlaylistTimeline(Self.playlist, start: 10 * Self.second)
        let found = timeline.locate(MediaTime.ticks(seconds: seconds))
        #expect(found?.index == index)
        let expected = min(MediaTime.ticks(seconds: offset), timeline.entries[index].duration - 1)
        #expect(found?.offset == expected)
    }

    @Test func spansStopAtADiscontinuityOrANewInitSection() {
        let timeline = PlaylistTimeline(Self.playlist)
        #expect(timeline.span(from: Self.second, to: 3 * Self.second)?.indices == 0..<2)
        #expect(timeline.span(from: Self.second, to: 9 * Self.second)?.indices == 0..<2)   // c follows a discontinuity
        #expect(timeline.span(from: Self.second / 2, to: Self.second)?.indices == 0..<1)
        #expect(timeline.span(from: 4 * Self.second, to: 9 * Self.second)?.indices == 2..<3) // d has another map
        #expect(timeline.span(from: 3 * Self.second, to: 4 * Self.second)?.offset == Self.second)
    }

    @Test func aWindowCountsTheDurationOfWhatLeftIt() {
        var window = LivePlaylistWindow(length: 2, targetDuration: 2 * Self.second)
        for (index, seconds) in [2, 2, 1, 3].enumerated() {
            _ = window.append(PlaylistSegment(uri: "\(index).ts", duration: Int64(seconds) * Self.second))
        }
        #expect(window.removedDuration == 4 * Self.second)  // 2 + 2 left the window of two
        _ = window.removeOldest()
        #expect(window.removedDuration == 5 * Self.second)
        #expect(PlaylistTimeline(window.playlist, start: window.removedDuration).entries.map(\.start) == [5 * Self.second])
    }

    @Test func secondsBecomeTicksWithoutTrapping() {
        #expect(MediaTime.ticks(seconds: 1.5) == 135_000)
        #expect(MediaTime.ticks(seconds: .nan) == 0 && MediaTime.ticks(seconds: .infinity) == 0)
        #expect(MediaTime.ticks(seconds: 1e300) == Int64(1e12) * MediaTime.timescale)
    }
}
