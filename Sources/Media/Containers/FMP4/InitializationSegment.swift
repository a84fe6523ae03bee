import NIOCore

/// The init segment of a CMAF track set (ISO/IEC 23000-19 §7.3.2.1, the CMAF header; RFC 8216bis
/// §3.1.2, the EXT-X-MAP resource): `ftyp`, then `moov` holding no samples.
///
/// ```
/// ftyp                           §4.3
/// moov                           §8.2.1
///   mvhd  §8.2.2  v0: timescale 1000, duration 0, rate 1.0, volume 1.0, unity matrix, next_track_ID
///   trak  ...     one per track (``TrackBox``)
///   mvex  §8.8.1  { trex §8.8.3 per track: default_sample_description_index 1, other defaults 0 }
///                 no mehd: a live presentation has no known duration
/// ```
public struct InitializationSegment: Sendable, Equatable {
    public var tracks: [TrackBox]

    public init(tracks: [TrackBox]) {
        self.tracks = tracks
    }

    public func write(into buffer: inout ByteBuffer) {
        FileTypeBox().write(into: &buffer)
        buffer.writeBox("moov") { moov in
            MovieHeaderBox(nextTrackID: (tracks.map(\.trackID).max() ?? 0) + 1).write(into: &moov)
            for track in tracks { track.write(into: &moov) }
            moov.writeBox("mvex") { mvex in
                for track in tracks {
                    mvex.writeFullBox("trex", version: 0, flags: 0) { trex in
                        trex.writeInteger(track.trackID)
                        trex.writeInteger(UInt32(1))
                        trex.writeZeros(12)
                    }
                }
            }
        }
    }

    /// The bytes of the segment.
    public var bytes: ByteBuffer {
        var buffer = ByteBuffer()
        write(into: &buffer)
        return buffer
    }
}
