import NIOCore

/// Reads MPEG-TS (ISO/IEC 13818-1 §2.4) back into access units, for recordings remuxed into MP4:
/// PAT (§2.4.4.3) -> PMT (§2.4.4.8) -> the H.264 (stream type 0x1B) and ADTS AAC (0x0F) elementary
/// streams, PES packet by PES packet (§2.4.3.6).
///
/// ```
/// 188-byte packet: 0x47 | TEI PUSI prio PID(13) | scrambling(2) AFC(2) CC(4) | [adaptation field] | payload
/// PES:             00 00 01 | stream_id | length(16) | flags | PTS_DTS_flags | header length | PTS [DTS] | ES data
/// ```
/// H.264 comes out as AVCC samples with four-byte lengths and without AUD, SPS or PPS (they are in
/// ``video``, from the first SPS and PPS in band); AAC as raw frames (their config in ``audio``).
/// Timestamps are unwrapped past the 33-bit wrap (26.5 h) per elementary stream. The bytes may be
/// damaged: a packet without its sync byte, a PES over ``maximumPESSize`` or a malformed header is
/// skipped, never trusted; a PES still open at the end of the input is emitted (a recorded segment
/// ends with whole access units).
public struct TransportStreamDemuxer: Sendable {
    /// The video track's configuration, once an SPS and a PPS were seen.
    public private(set) var video: AVCDecoderConfigurationRecord?
    /// The audio track's configuration, from the first ADTS header.
    public private(set) var audio: AudioSpecificConfig?
    /// Packets and PES packets skipped as malformed.
    public private(set) var skipped = 0

    private var programMapPID: UInt16?
    private var videoPID: UInt16?
    private var audioPID: UInt16?
    private var pending: [UInt16: (pts: Int64, dts: Int64, bytes: ByteBuffer)] = [:]
    private var lastTimestamp: [UInt16: Int64] = [:]

    /// The largest PES packet kept (a 4K keyframe is a few MB).
    public static let maximumPESSize = 32 << 20
    public static let packetSize = 188

    public init() {}

    /// The access units in `bytes` (whole packets), in the order their PES packets end.
    public mutating func read(_ bytes: ByteBuffer) -> [MediaSample] {
        var samples: [MediaSample] = []
        var offset = bytes.readerIndex
        let end = bytes.readerIndex + bytes.readableBytes
        while offset + Self.packetSize <= end {
            let packet = bytes.getSlice(at: offset, length: Self.packetSize)!
            offset += Self.packetSize
            read(packet: packet, into: &samples)
        }
        for pid in pending.keys.sorted() { emit(pid, into: &samples) }
        return samples
    }

    private mutating func read(packet: ByteBuffer, into samples: inout [MediaSample]) {
        guard let header = packet.getBytes(at: packet.readerIndex, length: 4), header[0] == 0x47 else { skipped += 1; return }
        let unitStart = header[1] & 0x40 != 0
        let pid = UInt16(header[1] & 0x1F) << 8 | UInt16(header[2])
        let control = header[3] >> 4 & 0x03
        guard control & 0x01 != 0 else { return }  // adaptation field only
        var start = 4
        if control & 0x02 != 0 {
            start += 1 + Int(packet.getInteger(at: packet.readerIndex + 4, as: UInt8.self) ?? 0)
        }
        guard start < Self.packetSize, var payload = packet.getSlice(at: packet.readerIndex + start, length: Self.packetSize - start) else {
            skipped += 1
            return
        }
        if pid == 0 || pid == programMapPID {
            guard unitStart, let pointer = payload.readInteger(as: UInt8.self), payload.skip(Int(pointer)) else { return }
            if pid == 0 { readAssociationTable(payload) } else { readMapTable(payload) }
            return
        }
        guard pid == videoPID || pid == audioPID else { return }
        if unitStart {
            emit(pid, into: &samples)
            guard let (pts, dts, data) = Self.pesPayload(payload) else { skipped += 1; return }
            pending[pid] = (unwrap(pts, pid), unwrap(dts, pid), data)
        } else if var open = pending[pid] {
            pending[pid] = nil
            guard open.bytes.readableBytes + payload.readableBytes <= Self.maximumPESSize else { skipped += 1; return }
            open.bytes.writeBuffer(&payload)
            pending[pid] = open
        }
    }

    /// The PAT's first program (program_number != 0).
    private mutating func readAssociationTable(_ section: ByteBuffer) {
        guard let bytes = section.getBytes(at: section.readerIndex, length: section.readableBytes), bytes.count >= 8, bytes[0] == 0x00 else { return }
        let length = min(Int(bytes[1] & 0x0F) << 8 | Int(bytes[2]), bytes.count - 3)
        var index = 8
        while index + 4 <= 3 + length - 4 {
            let program = UInt16(bytes[index]) << 8 | UInt16(bytes[index + 1])
            if program != 0 {
                programMapPID = UInt16(bytes[index + 2] & 0x1F) << 8 | UInt16(bytes[index + 3])
                return
            }
            index += 4
        }
    }

    /// The PMT's H.264 and AAC streams.
    private mutating func readMapTable(_ section: ByteBuffer) {
        guard let bytes = section.getBytes(at: section.readerIndex, length: section.readableBytes), bytes.count >= 12, bytes[0] == 0x02 else { return }
        let end = min(3 + (Int(bytes[1] & 0x0F) << 8 | Int(bytes[2])) - 4, bytes.count)
        var index = 12 + (Int(bytes[10] & 0x0F) << 8 | Int(bytes[11]))
        while index + 5 <= end {
            let pid = UInt16(bytes[index + 1] & 0x1F) << 8 | UInt16(bytes[index + 2])
            switch bytes[index] {
            case ProgramMapTable.h264StreamType: videoPID = pid
            case ProgramMapTable.adtsAACStreamType: audioPID = pid
            default: break
            }
            index += 5 + (Int(bytes[index + 3] & 0x0F) << 8 | Int(bytes[index + 4]))
        }
    }

    /// The timestamps and elementary data of a PES packet's first TS payload.
    static func pesPayload(_ payload: ByteBuffer) -> (pts: Int64, dts: Int64, data: ByteBuffer)? {
        guard let head = payload.getBytes(at: payload.readerIndex, length: 9), head[0] == 0, head[1] == 0, head[2] == 1,
              head[6] & 0xC0 == 0x80 else { return nil }
        let flags = head[7] >> 6
        let headerLength = 9 + Int(head[8])
        guard flags & 0x02 != 0, payload.readableBytes >= headerLength,
              let pts = timestamp(payload, at: 9) else { return nil }
        let dts = flags == 0x03 ? timestamp(payload, at: 14) ?? pts : pts
        return (pts, dts, payload.getSlice(at: payload.readerIndex + headerLength, length: payload.readableBytes - headerLength)!)
    }

    /// A 33-bit PTS or DTS field (§2.4.3.7) at `offset`.
    private static func timestamp(_ payload: ByteBuffer, at offset: Int) -> Int64? {
        guard let b = payload.getBytes(at: payload.readerIndex + offset, length: 5) else { return nil }
        return Int64(b[0] >> 1 & 0x07) << 30 | Int64(b[1]) << 22 | Int64(b[2] >> 1) << 15 | Int64(b[3]) << 7 | Int64(b[4] >> 1)
    }

    /// The unwrapped value nearest the stream's last timestamp.
    private mutating func unwrap(_ value: Int64, _ pid: UInt16) -> Int64 {
        let wrap: Int64 = 1 << 33
        guard let last = lastTimestamp[pid] else {
            lastTimestamp[pid] = value
            return value
        }
        var unwrapped = value + (last / wrap) * wrap
        if unwrapped - last > wrap / 2 { unwrapped -= wrap } else if last - unwrapped > wrap / 2 { unwrapped += wrap }
        lastTimestamp[pid] = max(last, unwrapped)
        return unwrapped
    }

    private mutating func emit(_ pid: UInt16, into samples: inout [MediaSample]) {
        guard let (pts, dts, data) = pending.removeValue(forKey: pid) else { return }
        if pid == videoPID {
            let unit = AnnexB.avcc(fromAnnexB: data)
            if video == nil, let sps = unit.sps.first, let pps = unit.pps.first {
                video = try? AVCDecoderConfigurationRecord(sequenceParameterSet: sps, pictureParameterSet: pps)
            }
            guard unit.sample.readableBytes > 0 else { return }
            samples.append(MediaSample(kind: .video, dts: dts, pts: pts, isKeyframe: unit.isIDR, payload: unit.sample))
        } else {
            var rest = data
            var index: Int64 = 0
            while rest.readableBytes > 0 {
                guard let (config, headerLength, frameLength) = try? ADTSHeader.parse(rest), frameLength <= rest.readableBytes else {
                    skipped += 1
                    return
                }
                if audio == nil { audio = config }
                let frame = rest.getSlice(at: rest.readerIndex + headerLength, length: frameLength - headerLength)!
                rest.moveReaderIndex(forwardBy: frameLength)
                let time = pts + index * 1024 * 90_000 / Int64(config.sampleRate)
                samples.append(MediaSample(kind: .audio, dts: time, pts: time, isKeyframe: true, payload: frame))
                index += 1
            }
        }
    }
}
