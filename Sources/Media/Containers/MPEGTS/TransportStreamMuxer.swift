import NIOCore

/// Muxes H.264 and AAC samples into an MPEG-TS program (ISO/IEC 13818-1 §2.4), the way HLS
/// (RFC 8216 §3.2) wants it: PAT/PMT at the start of every segment, one PES per access unit.
///
/// ```
/// PID 0x0000  PAT   program 1 -> PMT PID 0x1000
/// PID 0x1000  PMT   PCR_PID = video (else audio); streams: 0x1B H.264 @ 0x100, 0x0F AAC/ADTS @ 0x101
/// PID 0x0100  PES 0xE0: [AF: RAI on IDR, PCR] 00 00 00 01 09 F0 [SPS PPS] NAL units (Annex B)
/// PID 0x0101  PES 0xC0: [AF: RAI, PCR when audio-only] ADTS header + raw AAC frame
/// ```
///
/// Timestamps: PTS/DTS = (ticks + ``timestampOffset``) mod 2^33 and PCR = (DTS + offset -
/// ``pcrDelay``) mod 2^33, so an unwrapped stream starting at 0 with negative composition offsets
/// (PTS < DTS) never goes negative, and a 26.5 h stream wraps exactly where players expect it.
/// The muxer lives across segments: continuity counters continue from one segment to the next.
public struct TransportStreamMuxer: Sendable {
    /// PID of the PAT (fixed by the standard).
    public static let patPID: UInt16 = 0x0000
    /// PID of the PMT.
    public static let pmtPID: UInt16 = 0x1000
    /// PID of the H.264 stream.
    public static let videoPID: UInt16 = 0x0100
    /// PID of the AAC stream.
    public static let audioPID: UInt16 = 0x0101
    /// Added to every PTS/DTS: 1.4 s, as ffmpeg's HLS muxer does, so negative composition offsets
    /// and the PCR delay below stay positive at the start of a stream.
    public static let timestampOffset: Int64 = 126_000
    /// How far the PCR runs behind the DTS of the PES carrying it: 0.7 s (ffmpeg's default
    /// max_delay), the decoder buffering time it announces.
    public static let pcrDelay: Int64 = 63_000

    /// The video configuration, when the program has video.
    public let video: AVCDecoderConfigurationRecord?
    /// The audio configuration, when the program has audio.
    public let audio: AudioSpecificConfig?
    /// The PID carrying the PCR.
    public let pcrPID: UInt16
    /// Continuity counters by PID; they continue across segments (and may be handed to a successor muxer).
    var continuityCounters: [UInt16: UInt8] = [:]

    /// Creates a muxer for a program with the given tracks; the PMT lists only present tracks.
    public init(video: AVCDecoderConfigurationRecord?, audio: AudioSpecificConfig?) {
        self.video = video
        self.audio = audio
        pcrPID = video != nil ? Self.videoPID : audio != nil ? Self.audioPID : ProgramMapTable.noPCRPID
    }

    /// The PAT this muxer writes.
    public var programAssociationTable: ProgramAssociationTable {
        ProgramAssociationTable(programMapPID: Self.pmtPID)
    }

    /// The PMT this muxer writes.
    public var programMapTable: ProgramMapTable {
        var streams: [ProgramMapTable.Stream] = []
        if video != nil { streams.append(.init(streamType: ProgramMapTable.h264StreamType, pid: Self.videoPID)) }
        if audio != nil { streams.append(.init(streamType: ProgramMapTable.adtsAACStreamType, pid: Self.audioPID)) }
        return ProgramMapTable(pcrPID: pcrPID, streams: streams)
    }

    /// Writes PAT and PMT, one packet each; call at the start of every segment.
    public mutating func writeTables(into buffer: inout ByteBuffer) {
        TransportStreamPacket.writeSection(programAssociationTable.section, pid: Self.patPID,
                                           continuityCounter: &continuityCounters[Self.patPID, default: 0], into: &buffer)
        TransportStreamPacket.writeSection(programMapTable.section, pid: Self.pmtPID,
                                           continuityCounter: &continuityCounters[Self.pmtPID, default: 0], into: &buffer)
    }

    /// Writes one sample as a PES packet split into transport packets.
    ///
    /// Throws ``MPEGTSError/trackNotConfigured(_:)`` for a track the program lacks, ``H264Error`` for a
    /// malformed AVCC sample, ``AACError`` when the frame cannot be framed in ADTS. Nothing is
    /// written to `buffer` when it throws.
    public mutating func write(_ sample: MediaSample, into buffer: inout ByteBuffer) throws {
        let pid: UInt16
        var pes = ByteBuffer()
        switch sample.kind {
        case .video:
            guard let video else { throw MPEGTSError.trackNotConfigured(.video) }
            pid = Self.videoPID
            var elementary = ByteBuffer()
            elementary.reserveCapacity(sample.payload.readableBytes + 128)
            try AnnexB.convert(avcc: sample.payload, nalUnitLengthSize: video.nalUnitLengthSize,
                               parameterSets: video, into: &elementary)
            pes.reserveCapacity(elementary.readableBytes + 19)
            try header(for: sample, streamID: PESHeader.videoStreamID, payloadLength: nil).write(into: &pes)
            pes.writeImmutableBuffer(elementary)
        case .audio:
            guard let audio else { throw MPEGTSError.trackNotConfigured(.audio) }
            pid = Self.audioPID
            let adts = try ADTSHeader(config: Self.adtsConfig(for: audio), payloadLength: sample.payload.readableBytes)
            try header(for: sample, streamID: PESHeader.audioStreamID, payloadLength: ADTSHeader.size + adts.payloadLength)
                .write(into: &pes)
            adts.write(into: &pes)
            pes.writeImmutableBuffer(sample.payload)
        }
        let pcr = pid == pcrPID ? PESHeader.wrap(sample.dts + Self.timestampOffset - Self.pcrDelay) : nil
        TransportStreamPacket.writePES(pes, pid: pid, continuityCounter: &continuityCounters[pid, default: 0],
                                       randomAccess: sample.isKeyframe, programClockReference: pcr, into: &buffer)
    }

    /// The PES header of `sample`: DTS only when it differs from the PTS.
    private func header(for sample: MediaSample, streamID: UInt8, payloadLength: Int?) -> PESHeader {
        PESHeader(streamID: streamID, pts: sample.pts + Self.timestampOffset,
                  dts: sample.dts == sample.pts ? nil : sample.dts + Self.timestampOffset, payloadLength: payloadLength)
    }

    /// The configuration to describe in ADTS headers. Interop: HE-AAC (SBR, object type 5) and
    /// HE-AACv2 (PS, 29) are signalled as their AAC-LC core with the core sampling rate (implicit
    /// SBR/PS signalling, ISO/IEC 14496-3 §1.6.5.2), since ADTS cannot carry object types above 4.
    static func adtsConfig(for config: AudioSpecificConfig) -> AudioSpecificConfig {
        guard config.objectType == 5 || config.objectType == 29 else { return config }
        var core = config
        core.objectType = 2
        return core
    }
}
