import Foundation
import Media
import NIOCore
#if canImport(Glibc)
import Glibc
#endif

/// Builds a recording's static rendition (`highest.mp4`: video and audio; `audio.m4a`: audio only) as
/// stream.mux.com serves them: the recording's segments read back (MPEG-TS through
/// ``TransportStreamDemuxer``, CMAF through ``FragmentReader``) and remuxed, never re-encoded, into a
/// progressive MP4 (``ProgressiveMovie``: the index first). Two passes over the segments: the first
/// notes every sample's size and timing, the second writes the samples after the header. The file
/// is written under a temporary name and renamed when complete, so a failed build (a full disk, a
/// damaged segment) leaves no half file to serve. Runs on NIO's thread pool (file system work).
enum RenditionBuilder {
    struct Built: Sendable, Equatable {
        var fileSize: Int64
        var width: Int?
        var height: Int?
        var bitrate: Int
        var duration: Double
    }

    enum Failure: Error, CustomStringConvertible {
        case noMedia(String)
        case unreadable(String)
        case noRoom(String)
        var description: String {
            switch self {
            case .noMedia(let what): "the recording has no \(what)"
            case .noRoom(let limit): "no room for it: \(limit)"
            case .unreadable(let what): "cannot read the recording: \(what)"
            }
        }
    }

    /// Writes `name` into `files`' directory from the VOD (or EVENT) playlist `playlist`.
    static func build(_ name: Asset.StaticRendition.Name, files: SegmentFiles, playlist: MediaPlaylist, format: SegmentFormat) throws -> Built {
        // Pass 1: the samples' descriptions and the tracks.
        var infos: [(info: ProgressiveMovie.SampleInfo, discontinuity: Bool)] = []
        var reader = SampleReader(files: files, format: format)
        var video: MediaTrack?, audio: MediaTrack?
        for segment in playlist.segments {
            var first = segment.discontinuity
            for sample in try reader.samples(of: segment) {
                infos.append((ProgressiveMovie.SampleInfo(sample), first))
                first = false
            }
            video = video ?? reader.video
            audio = audio ?? reader.audio
        }
        var movie = ProgressiveMovie(video: name == .audio ? nil : video, audio: audio, brand: name == .audio ? .m4a : .mp4)
        var pending = false  // a discontinuity starts at the first sample the movie keeps
        for (info, discontinuity) in infos {
            pending = pending || discontinuity
            if movie.add(info, startsDiscontinuity: pending) { pending = false }
        }
        guard movie.sampleCount > 0 else { throw Failure.noMedia(name == .audio ? "audio" : "media") }

        // Pass 2: the header, then the same samples' bytes in the same order.
        let temporary = "." + name.rawValue + ".tmp"
        let path = files.directory + "/" + temporary
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw SegmentFiles.Failure(operation: "open", path: path, errno: errno) }
        var closed = false
        defer {
            if !closed { close(fd); unlink(path) }
        }
        try write(fd, movie.header(), path: path)
        let expected = infos.map(\.info).filter { movie.includes($0.kind) }
        var again = SampleReader(files: files, format: format)
        var written = 0
        for segment in playlist.segments {
            var chunk = ByteBuffer()
            for sample in try again.samples(of: segment) where movie.includes(sample.kind) {
                guard written < expected.count, expected[written] == ProgressiveMovie.SampleInfo(sample) else {
                    throw Failure.unreadable("the segments changed while the rendition was built")
                }
                var payload = sample.payload
                chunk.writeBuffer(&payload)
                written += 1
            }
            try write(fd, chunk, path: path)
        }
        guard written == expected.count else { throw Failure.unreadable("the segments changed while the rendition was built") }
        guard fsync(fd) == 0 else { throw SegmentFiles.Failure(operation: "fsync", path: path, errno: errno) }
        var info = stat()
        fstat(fd, &info)
        close(fd)
        closed = true
        guard rename(path, files.directory + "/" + name.rawValue) == 0 else {
            let failure = SegmentFiles.Failure(operation: "rename", path: path, errno: errno)
            unlink(path)
            throw failure
        }
        let sps: SequenceParameterSet? = if case .h264(let record) = video, name != .audio {
            record.sequenceParameterSets.first.flatMap { try? SequenceParameterSet(parsing: $0) }
        } else { nil }
        let duration = movie.duration
        return Built(fileSize: Int64(info.st_size), width: sps?.width, height: sps?.height,
                     bitrate: Int((Double(info.st_size) * 8 / max(duration, 0.001)).rounded()), duration: duration)
    }

    private static func write(_ fd: Int32, _ bytes: ByteBuffer, path: String) throws {
        if let failure = SegmentFiles.writeAll(fd, bytes, path: path) { throw failure }
    }

    /// Reads a recording's segments back into samples, in file order.
    struct SampleReader {
        let files: SegmentFiles
        let format: SegmentFormat
        private var demuxer = TransportStreamDemuxer()
        private var fragments: (map: String, reader: FragmentReader)?

        init(files: SegmentFiles, format: SegmentFormat) {
            self.files = files
            self.format = format
        }

        var video: MediaTrack? {
            if format == .mpegts { return demuxer.video.map(MediaTrack.h264) }
            return fragments?.reader.tracks.values.map(\.track).first { $0.kind == .video }
        }

        var audio: MediaTrack? {
            if format == .mpegts { return demuxer.audio.map(MediaTrack.aac) }
            return fragments?.reader.tracks.values.map(\.track).first { $0.kind == .audio }
        }

        mutating func samples(of segment: PlaylistSegment) throws -> [MediaSample] {
            guard let bytes = files.read(segment.uri) else { throw Failure.unreadable("\(segment.uri) is missing") }
            if format == .mpegts {
                if segment.discontinuity { demuxer = TransportStreamDemuxer() }  // tables and clocks may have changed
                return demuxer.read(bytes)
            }
            guard let map = segment.map else { throw Failure.unreadable("\(segment.uri) has no init section") }
            if fragments?.map != map {
                guard let initialization = files.read(map) else { throw Failure.unreadable("\(map) is missing") }
                fragments = (map, try FragmentReader(initialization: initialization))
            }
            return try fragments!.reader.samples(in: bytes)
        }
    }
}
