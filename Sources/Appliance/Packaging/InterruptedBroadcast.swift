import Media

/// A broadcast that a crash or power cut interrupted: its playlist has no ENDLIST and was written less
/// than the stream's reconnect window ago. The packager continues it (same media sequence, the next
/// segment after a discontinuity) so players keep going.
enum InterruptedBroadcast {
    /// The broadcast left in `files`, if any: the playlist to continue (trimmed to its newest segments
    /// whose files are still there) and those files.
    static func find(in files: SegmentFiles, within seconds: Double, now milliseconds: Int64)
        -> (playlist: MediaPlaylist, files: [SegmentRetention.File])? {
        guard seconds > 0, let written = files.modificationTime("index.m3u8"),
              Double(milliseconds - written) / 1000 <= seconds,
              let bytes = files.read("index.m3u8"),
              let playlist = try? MediaPlaylist(parsing: String(buffer: bytes)) else { return nil }
        return resume(playlist) { files.size($0) }
    }

    /// Pure: the playlist's newest segments whose files exist (`size` is nil for a missing file). Older
    /// ones count as having left the window, so media and discontinuity sequence numbers stay right.
    /// Nil for a finished playlist or one with no segment left.
    static func resume(_ playlist: MediaPlaylist, size: (String) -> Int64?) -> (playlist: MediaPlaylist, files: [SegmentRetention.File])? {
        guard !playlist.endList else { return nil }
        var present: [SegmentRetention.File] = []
        for segment in playlist.segments.reversed() {
            guard !segment.uri.contains("/"), let bytes = size(segment.uri) else { break }
            present.insert(.init(uri: segment.uri, bytes: bytes, duration: segment.duration), at: 0)
        }
        guard !present.isEmpty else { return nil }
        var resumed = playlist
        let gone = playlist.segments.prefix(playlist.segments.count - present.count)
        resumed.mediaSequence += gone.count
        resumed.discontinuitySequence += gone.filter(\.discontinuity).count
        resumed.segments.removeFirst(gone.count)
        return (resumed, present)
    }
}
