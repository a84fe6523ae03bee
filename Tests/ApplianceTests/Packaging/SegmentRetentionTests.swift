import Media
import Testing
@testable import Appliance

/// The grace window and the byte budgets, without a file system.
@Suite struct SegmentRetentionTests {
    static let second = MediaTime.timescale

    static func retention(length: Int = 3, grace: Int = 2, maxBytes: Int64 = 1 << 30) -> SegmentRetention {
        SegmentRetention(window: LivePlaylistWindow(length: length, targetDuration: 2 * second), graceSegments: grace, maxBytes: maxBytes)
    }

    /// Appends segments "0".."n-1" of `bytes` each; returns what each append said to delete.
    static func fill(_ retention: inout SegmentRetention, _ count: Int, bytes: Int64 = 100, from start: Int = 0) -> [[String]] {
        (start..<(start + count)).map { index in
            retention.append(.init(uri: "\(index)", bytes: bytes, duration: 2 * second),
                             as: PlaylistSegment(uri: "\(index)", duration: 2 * second)).map(\.uri)
        }
    }

    @Test func segmentsLeaveThePlaylistThenTheDiskAfterTheGraceWindow() {
        var retention = Self.retention(length: 3, grace: 2)
        let deleted = Self.fill(&retention, 7)
        // 0 leaves the playlist at 3, 1 at 4; the third to leave (2, at 5) pushes 0 off the disk.
        #expect(deleted == [[], [], [], [], [], ["0"], ["1"]])
        #expect(retention.window.playlist.segments.map(\.uri) == ["4", "5", "6"])
        #expect(retention.listed.map(\.uri) == ["4", "5", "6"])
        #expect(retention.files.map(\.uri) == ["2", "3", "4", "5", "6"])
        #expect(retention.graceCount == 2 && retention.bytes == 500)
        #expect(retention.window.playlist.mediaSequence == 4)
    }

    @Test func noGraceDeletesASegmentAsItLeaves() {
        var retention = Self.retention(length: 2, grace: 0)
        #expect(Self.fill(&retention, 4) == [[], [], ["0"], ["1"]])
        #expect(retention.files.map(\.uri) == ["2", "3"])
    }

    @Test func theStreamBudgetDropsGraceSegmentsFirstThenThePlaylistsOldest() {
        var retention = Self.retention(length: 3, grace: 2, maxBytes: 450)
        _ = Self.fill(&retention, 4)  // on disk: 0 (grace), 1, 2, 3 = 400 bytes
        #expect(retention.makeRoom(for: 100, totalFree: .max).map(\.uri) == ["0"], "a grace segment goes first")
        #expect(retention.window.playlist.segments.map(\.uri) == ["1", "2", "3"], "the playlist is untouched")
        #expect(retention.makeRoom(for: 300, totalFree: .max).map(\.uri) == ["1", "2"], "then the playlist's oldest")
        #expect(retention.window.playlist.segments.map(\.uri) == ["3"])
        #expect(retention.window.playlist.mediaSequence == 3, "sequence numbers stay right")
        #expect(retention.bytes == 100)
    }

    @Test func theAppliancesBudgetCountsWhatDroppingFrees() {
        var retention = Self.retention(length: 5, grace: 0)
        _ = Self.fill(&retention, 3)
        // The appliance has 50 bytes left: two 100-byte drops make room for 250.
        #expect(retention.makeRoom(for: 250, totalFree: 50).map(\.uri) == ["0", "1"])
        #expect(retention.makeRoom(for: 10, totalFree: 10).isEmpty, "nothing to drop when it fits")
    }

    @Test func whenNothingIsLeftToDropItGivesUp() {
        var retention = Self.retention(length: 3, grace: 1, maxBytes: 50)
        #expect(retention.makeRoom(for: 100, totalFree: .max).isEmpty)
        #expect(retention.dropOldest() == nil)
        _ = Self.fill(&retention, 1)
        #expect(retention.dropOldest()?.uri == "0")
        #expect(retention.dropOldest() == nil && retention.files.isEmpty && retention.bytes == 0)
        #expect(retention.window.playlist.segments.isEmpty)
    }

    @Test func resumedFilesCountAgainstTheBudget() {
        let window = LivePlaylistWindow(length: 3, targetDuration: 2 * Self.second)
        let retention = SegmentRetention(window: window, graceSegments: 2, maxBytes: 1000,
                                         files: [.init(uri: "a", bytes: 300, duration: 1), .init(uri: "b", bytes: 200, duration: 1)])
        #expect(retention.bytes == 500)
    }
}

/// Continuing a crash-interrupted broadcast, without a file system.
@Suite struct InterruptedBroadcastTests {
    static func playlist(_ uris: [String], discontinuityAt: Set<String> = [], ended: Bool = false) -> MediaPlaylist {
        var text = "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:10\n"
        for uri in uris {
            if discontinuityAt.contains(uri) { text += "#EXT-X-DISCONTINUITY\n" }
            text += "#EXTINF:2.000,\n\(uri)\n"
        }
        if ended { text += "#EXT-X-ENDLIST\n" }
        return try! MediaPlaylist(parsing: text)
    }

    @Test func keepsTheNewestSegmentsWhoseFilesRemainAndCountsTheRestAsGone() throws {
        let sizes: [String: Int64] = ["c.ts": 30, "d.ts": 40]
        let resumed = try #require(InterruptedBroadcast.resume(Self.playlist(["a.ts", "b.ts", "c.ts", "d.ts"], discontinuityAt: ["b.ts"])) { sizes[$0] })
        #expect(resumed.files.map(\.uri) == ["c.ts", "d.ts"] && resumed.files.map(\.bytes) == [30, 40])
        #expect(resumed.playlist.segments.map(\.uri) == ["c.ts", "d.ts"])
        #expect(resumed.playlist.mediaSequence == 12)
        #expect(resumed.playlist.discontinuitySequence == 1, "the discontinuity that left still counts")
    }

    @Test func aGapStopsTheResumeAtTheNewestMissingFile() throws {
        let sizes: [String: Int64] = ["a.ts": 1, "c.ts": 3]
        let resumed = try #require(InterruptedBroadcast.resume(Self.playlist(["a.ts", "b.ts", "c.ts"])) { sizes[$0] })
        #expect(resumed.files.map(\.uri) == ["c.ts"])
    }

    @Test func finishedEmptyOrForeignPlaylistsAreNotResumed() {
        #expect(InterruptedBroadcast.resume(Self.playlist(["a.ts"], ended: true)) { _ in 1 } == nil)
        #expect(InterruptedBroadcast.resume(Self.playlist(["a.ts"])) { _ in nil } == nil)
        #expect(InterruptedBroadcast.resume(Self.playlist(["../x/a.ts"])) { _ in 1 } == nil, "no file outside the directory")
    }
}
