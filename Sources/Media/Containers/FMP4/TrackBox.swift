import NIOCore

/// One `trak` of a `moov`: ISO/IEC 14496-12 §8.3.1. In a fragmented file's init segment its sample
/// tables are empty (the samples come in fragments; RFC 8216bis §3.1.2: "sample tables with zero
/// entries, durations 0"); in a progressive MP4 they are ``SampleTable`` with the track's durations.
///
/// ```
/// trak
///   tkhd   §8.3.2  v0, flags 3 (enabled | in movie), track_ID, duration 0, alternate_group, volume,
///                  unity matrix, width and height in 16.16
///   mdia   §8.4.1
///     mdhd §8.4.2  timescale, duration 0, language 'und'
///     hdlr §8.4.3  'vide' | 'soun', a name
///     minf §8.4.4
///       vmhd §12.1.2 (flags 1) | smhd §12.2.2
///       dinf §8.7.1 { dref §8.7.2 { 'url ' flags 1: media in this file } }
///       stbl §8.5.1 { stsd §8.5.2 { sample entry }, stts, stsc, stsz, stco: no entries, or ``SampleTable`` }
/// ```
public struct TrackBox: Sendable, Equatable {
    public var trackID: UInt32
    /// Ticks per second of the track's media timeline (90 kHz video, the sample rate for audio).
    public var timescale: UInt32
    public var sampleEntry: SampleEntry
    /// A progressive file's samples; nil in an init segment.
    public var samples: SampleTable?
    /// The track's duration in the movie's timescale (tkhd); 0 in an init segment.
    public var movieDuration: UInt64 = 0

    public init(trackID: UInt32, timescale: UInt32, sampleEntry: SampleEntry, samples: SampleTable? = nil, movieDuration: UInt64 = 0) {
        self.trackID = trackID
        self.timescale = timescale
        self.sampleEntry = sampleEntry
        self.samples = samples
        self.movieDuration = movieDuration
    }

    /// The 3x3 identity matrix of §8.2.2 / §8.3.2 in 16.16 and 2.30 fixed point.
    static let unityMatrix: [UInt32] = [0x0001_0000, 0, 0, 0, 0x0001_0000, 0, 0, 0, 0x4000_0000]

    public func write(into buffer: inout ByteBuffer) {
        let isAudio = sampleEntry.handler == "soun"
        var width = 0, height = 0
        if case .avc1(let entry) = sampleEntry { (width, height) = (entry.width, entry.height) }
        buffer.writeBox("trak") { trak in
            trak.writeFullBox("tkhd", version: 0, flags: 3) { tkhd in
                tkhd.writeZeros(8)                        // creation, modification time
                tkhd.writeInteger(trackID)
                tkhd.writeZeros(4)                        // reserved
                tkhd.writeInteger(UInt32(clamping: movieDuration))
                tkhd.writeZeros(8)                        // reserved
                tkhd.writeInteger(UInt16(0))              // layer
                tkhd.writeInteger(UInt16(isAudio ? 1 : 0)) // alternate_group
                tkhd.writeInteger(UInt16(isAudio ? 0x0100 : 0))
                tkhd.writeZeros(2)
                for value in Self.unityMatrix { tkhd.writeInteger(value) }
                tkhd.writeInteger(UInt32(clamping: width) << 16)
                tkhd.writeInteger(UInt32(clamping: height) << 16)
            }
            trak.writeBox("mdia") { mdia in
                mdia.writeFullBox("mdhd", version: 0, flags: 0) { mdhd in
                    mdhd.writeZeros(8)
                    mdhd.writeInteger(timescale)
                    mdhd.writeInteger(UInt32(clamping: samples?.duration ?? 0))
                    mdhd.writeInteger(UInt16(0x55C4))     // pad 0, ISO 639-2 'und' in 5-bit letters
                    mdhd.writeInteger(UInt16(0))
                }
                mdia.writeFullBox("hdlr", version: 0, flags: 0) { hdlr in
                    hdlr.writeInteger(UInt32(0))
                    hdlr.writeInteger(sampleEntry.handler.rawValue)
                    hdlr.writeZeros(12)
                    hdlr.writeString(isAudio ? "SoundHandler" : "VideoHandler")
                    hdlr.writeInteger(UInt8(0))
                }
                mdia.writeBox("minf") { minf in
                    if isAudio {
                        minf.writeFullBox("smhd", version: 0, flags: 0) { $0.writeZeros(4) }
                    } else {
                        minf.writeFullBox("vmhd", version: 0, flags: 1) { $0.writeZeros(8) }
                    }
                    minf.writeBox("dinf") { dinf in
                        dinf.writeFullBox("dref", version: 0, flags: 0) { dref in
                            dref.writeInteger(UInt32(1))
                            dref.writeFullBox("url ", version: 0, flags: 1) { _ in }
                        }
                    }
                    minf.writeBox("stbl") { stbl in
                        stbl.writeFullBox("stsd", version: 0, flags: 0) { stsd in
                            stsd.writeInteger(UInt32(1))
                            sampleEntry.write(into: &stsd)
                        }
                        if let samples {
                            samples.write(into: &stbl)
                        } else {
                            stbl.writeFullBox("stts", version: 0, flags: 0) { $0.writeInteger(UInt32(0)) }
                            stbl.writeFullBox("stsc", version: 0, flags: 0) { $0.writeInteger(UInt32(0)) }
                            stbl.writeFullBox("stsz", version: 0, flags: 0) { $0.writeZeros(8) }
                            stbl.writeFullBox("stco", version: 0, flags: 0) { $0.writeInteger(UInt32(0)) }
                        }
                    }
                }
            }
        }
    }
}
