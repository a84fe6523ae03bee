import NIOCore

/// Reads fragmented MP4 back into samples, for CMAF recordings remuxed into one MP4: the tracks of
/// an init segment (`moov/trak`: tkhd track_ID, mdhd timescale, stsd `avc1`/`avcC` or `mp4a`/`esds`)
/// and the samples of a segment's `moof`+`mdat` pairs (ISO/IEC 14496-12 §8.8.7 tfhd, §8.8.12 tfdt,
/// §8.8.8 trun), at 90 kHz like every ``MediaSample``.
///
/// Bounded like ``BoxReader``: a sample or a data offset outside its `mdat`, a trun promising more
/// samples than its bytes hold, an unknown track: the fragment is refused with ``Failure``.
public struct FragmentReader: Sendable {
    public struct Track: Sendable, Equatable {
        public var id: UInt32
        public var timescale: UInt32
        public var track: MediaTrack
    }

    public enum Failure: Error, Equatable, Sendable {
        case noTracks
        case malformed(String)
    }

    /// The init segment's tracks by track_ID.
    public let tracks: [UInt32: Track]
    /// The largest decode time (and composition offset) read, in a track's ticks.
    public static let maximumDecodeTime: Int64 = 1 << 40

    public init(initialization: ByteBuffer) throws {
        var tracks: [UInt32: Track] = [:]
        for trak in try BoxReader.read(initialization).first(where: { $0.type == "moov" })?.all("trak") ?? [] {
            guard var tkhd = trak.first(["tkhd"])?.body, let version = tkhd.readInteger(as: UInt8.self),
                  tkhd.skip(3 + (version == 1 ? 16 : 8)), let id = tkhd.readInteger(as: UInt32.self),
                  var mdhd = trak.first(["mdia", "mdhd"])?.body, let mdhdVersion = mdhd.readInteger(as: UInt8.self),
                  mdhd.skip(3 + (mdhdVersion == 1 ? 16 : 8)), let timescale = mdhd.readInteger(as: UInt32.self),
                  timescale > 0, let entry = trak.first(["mdia", "minf", "stbl", "stsd"])?.children.first else { continue }
            if entry.type == "avc1", let avcC = entry.first(["avcC"]) {
                tracks[id] = Track(id: id, timescale: timescale, track: .h264(try AVCDecoderConfigurationRecord(parsing: avcC.body)))
            } else if entry.type == "mp4a", let esds = entry.first(["esds"]), let config = Self.decoderSpecificInfo(esds.body) {
                tracks[id] = Track(id: id, timescale: timescale, track: .aac(try AudioSpecificConfig(parsing: config)))
            }
        }
        guard !tracks.isEmpty else { throw Failure.noTracks }
        self.tracks = tracks
    }

    /// The samples of a segment: its fragments in order, each track's samples in trun order.
    public func samples(in segment: ByteBuffer) throws -> [MediaSample] {
        var samples: [MediaSample] = []
        var offset = segment.readerIndex
        let end = segment.readerIndex + segment.readableBytes
        var moof: (start: Int, boxes: [BoxReader.Box])?
        while offset + 8 <= end {
            guard let size32 = segment.getInteger(at: offset, as: UInt32.self), let type = segment.getInteger(at: offset + 4, as: UInt32.self) else { break }
            var header = 8, size = Int(size32)
            if size32 == 1 {
                guard let large = segment.getInteger(at: offset + 8, as: UInt64.self), large <= UInt64(Int.max) else { throw Failure.malformed("box size") }
                size = Int(large)
                header = 16
            } else if size32 == 0 {
                size = end - offset
            }
            guard size >= header, size <= end - offset else { throw Failure.malformed("box size") }
            let body = segment.getSlice(at: offset + header, length: size - header)!
            switch FourCC(rawValue: type) {
            case "moof":
                moof = (offset, try BoxReader.read(body))
            case "mdat":
                guard let (start, boxes) = moof else { throw Failure.malformed("mdat without moof") }
                for traf in boxes where traf.type == "traf" {
                    samples += try read(traf, moofStart: start, segment: segment, mdat: (offset + header)..<(offset + size))
                }
                moof = nil
            default: break
            }
            offset += size
        }
        return samples
    }

    private func read(_ traf: BoxReader.Box, moofStart: Int, segment: ByteBuffer, mdat: Range<Int>) throws -> [MediaSample] {
        guard var tfhd = traf.first(["tfhd"])?.body, let flagsWord = tfhd.readInteger(as: UInt32.self),
              let id = tfhd.readInteger(as: UInt32.self), let track = tracks[id] else { throw Failure.malformed("tfhd") }
        let flags = flagsWord & 0xFF_FFFF
        var base = moofStart
        if flags & 0x01 != 0 {
            guard let value = tfhd.readInteger(as: UInt64.self), value < UInt64(Int32.max) else { throw Failure.malformed("base_data_offset") }
            base = segment.readerIndex + Int(value)
        }
        if flags & 0x02 != 0 { _ = tfhd.readInteger(as: UInt32.self) }
        let defaultDuration = flags & 0x08 != 0 ? tfhd.readInteger(as: UInt32.self) ?? 0 : 0
        let defaultSize = flags & 0x10 != 0 ? tfhd.readInteger(as: UInt32.self) ?? 0 : 0
        let defaultFlags = flags & 0x20 != 0 ? tfhd.readInteger(as: UInt32.self) ?? 0 : 0
        var decodeTime: Int64 = 0
        if var tfdt = traf.first(["tfdt"])?.body, let version = tfdt.readInteger(as: UInt32.self).map({ $0 >> 24 }) {
            decodeTime = version == 1 ? Int64(truncatingIfNeeded: tfdt.readInteger(as: UInt64.self) ?? 0) : Int64(tfdt.readInteger(as: UInt32.self) ?? 0)
            guard abs(decodeTime) < Self.maximumDecodeTime else { throw Failure.malformed("decode time") }
        }
        var samples: [MediaSample] = []
        for var trun in traf.all("trun") {
            guard let word = trun.body.readInteger(as: UInt32.self), let count = trun.body.readInteger(as: UInt32.self) else {
                throw Failure.malformed("trun")
            }
            let version = word >> 24, runFlags = word & 0xFF_FFFF
            let perSample = [0x100, 0x200, 0x400, 0x800].filter { runFlags & UInt32($0) != 0 }.count * 4
            var dataOffset = 0
            if runFlags & 0x01 != 0 { dataOffset = Int(trun.body.readInteger(as: Int32.self) ?? 0) }
            let firstFlags = runFlags & 0x04 != 0 ? trun.body.readInteger(as: UInt32.self) : nil
            // Every sample takes its table bytes, or (with defaults) at least a byte of the mdat.
            guard Int(count) * perSample <= trun.body.readableBytes, Int(count) <= max(1, mdat.count) else {
                throw Failure.malformed("trun sample count")
            }
            var position = base + dataOffset
            for index in 0..<Int(count) {
                let duration = runFlags & 0x100 != 0 ? trun.body.readInteger(as: UInt32.self)! : defaultDuration
                let size = Int(runFlags & 0x200 != 0 ? trun.body.readInteger(as: UInt32.self)! : defaultSize)
                var sampleFlags = runFlags & 0x400 != 0 ? trun.body.readInteger(as: UInt32.self)! : defaultFlags
                if index == 0, let firstFlags { sampleFlags = firstFlags }
                var offset: Int64 = 0
                if runFlags & 0x800 != 0 {
                    let raw = trun.body.readInteger(as: UInt32.self)!
                    offset = version == 0 ? Int64(raw) : Int64(Int32(bitPattern: raw))
                }
                guard position >= mdat.lowerBound, size >= 0, position + size <= mdat.upperBound else { throw Failure.malformed("sample outside mdat") }
                // Decode times past 2^40 ticks (over 120 days at 90 kHz) are not a recording's: refused, never overflowed.
                guard abs(decodeTime) < Self.maximumDecodeTime, abs(offset) < Self.maximumDecodeTime else { throw Failure.malformed("decode time") }
                let dts = decodeTime * 90_000 / Int64(track.timescale)
                let pts = (decodeTime + offset) * 90_000 / Int64(track.timescale)
                let kind = track.track.kind
                samples.append(MediaSample(kind: kind, dts: dts, pts: kind == .audio ? dts : pts,
                                           isKeyframe: kind == .audio || sampleFlags & 0x0001_0000 == 0,
                                           payload: segment.getSlice(at: position, length: size)!))
                position += size
                decodeTime += Int64(duration)
            }
            base = position
        }
        return samples
    }

    /// The DecoderSpecificInfo (tag 5) of an `esds` body (ISO/IEC 14496-1 §7.2.6): the AudioSpecificConfig.
    static func decoderSpecificInfo(_ esds: ByteBuffer) -> ByteBuffer? {
        var body = esds
        guard body.skip(4) else { return nil }  // version and flags
        func descriptor() -> (tag: UInt8, body: ByteBuffer)? {
            guard let tag = body.readInteger(as: UInt8.self) else { return nil }
            var length = 0
            for _ in 0..<4 {
                guard let byte = body.readInteger(as: UInt8.self) else { return nil }
                length = length << 7 | Int(byte & 0x7F)
                if byte & 0x80 == 0 { break }
            }
            guard let slice = body.readSlice(length: length) else { return nil }
            return (tag, slice)
        }
        guard let es = descriptor(), es.tag == 0x03 else { return nil }
        body = es.body
        guard let flags = body.getInteger(at: body.readerIndex + 2, as: UInt8.self) else { return nil }
        var skip = 3
        if flags & 0x80 != 0 { skip += 2 }
        if flags & 0x40 != 0 { skip += 1 + Int(body.getInteger(at: body.readerIndex + skip, as: UInt8.self) ?? 0) }
        if flags & 0x20 != 0 { skip += 2 }
        guard body.skip(skip), let config = descriptor(), config.tag == 0x04 else { return nil }
        body = config.body
        guard body.skip(13), let info = descriptor(), info.tag == 0x05 else { return nil }
        return info.body
    }
}
