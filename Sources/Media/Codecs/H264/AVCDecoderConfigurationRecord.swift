import NIOCore

/// AVCDecoderConfigurationRecord, ISO/IEC 14496-15 §5.3.3.1 (the FLV/RTMP "AVC sequence header").
///
/// ```
/// configurationVersion (8) = 1 | AVCProfileIndication (8) | profile_compatibility (8) | AVCLevelIndication (8)
/// reserved (6) '111111' | lengthSizeMinusOne (2)
/// reserved (3) '111'    | numOfSequenceParameterSets (5)
///   { sequenceParameterSetLength (16) | sequenceParameterSetNALUnit }
/// numOfPictureParameterSets (8)
///   { pictureParameterSetLength (16)  | pictureParameterSetNALUnit }
/// [high-profile extension: chroma_format, bit depths, SPS ext — ignored]
/// ```
public struct AVCDecoderConfigurationRecord: Sendable, Equatable {
    /// profile_idc of the first SPS.
    public var profileIndication: UInt8
    /// The constraint flags byte.
    public var profileCompatibility: UInt8
    /// level_idc.
    public var levelIndication: UInt8
    /// Size in bytes of the NAL unit length prefix in samples: 1, 2 or 4.
    public var nalUnitLengthSize: Int
    /// Sequence parameter set NAL units (with their NAL header byte).
    public var sequenceParameterSets: [ByteBuffer]
    /// Picture parameter set NAL units (with their NAL header byte).
    public var pictureParameterSets: [ByteBuffer]
    /// The record as it arrived (the `avcC` box body of fMP4, ISO/IEC 14496-15 §5.4.2.1, copies it).
    public var bytes: ByteBuffer

    /// Parses a record; throws ``H264Error`` or ``PayloadError`` on malformed input.
    public init(parsing payload: ByteBuffer) throws {
        bytes = payload
        var reader = PayloadReader(payload)
        let version: UInt8 = try reader.read()
        guard version == 1 else { throw H264Error.unsupportedConfigurationVersion(version) }
        profileIndication = try reader.read()
        profileCompatibility = try reader.read()
        levelIndication = try reader.read()
        let lengthSizeMinusOne: UInt8 = try reader.read()
        nalUnitLengthSize = Int(lengthSizeMinusOne & 0x03) + 1
        guard nalUnitLengthSize != 3 else { throw H264Error.invalidNALUnitLengthSize(3) }
        let spsCount = Int(try reader.read(UInt8.self) & 0x1F)
        sequenceParameterSets = try (0..<spsCount).map { _ in
            try reader.readSlice(length: Int(try reader.read(UInt16.self)))
        }
        let ppsCount = Int(try reader.read(UInt8.self))
        pictureParameterSets = try (0..<ppsCount).map { _ in
            try reader.readSlice(length: Int(try reader.read(UInt16.self)))
        }
        guard !sequenceParameterSets.isEmpty, !pictureParameterSets.isEmpty else {
            throw H264Error.missingParameterSets(sps: sequenceParameterSets.count, pps: pictureParameterSets.count)
        }
    }

    /// A record for one SPS and one PPS (read from an Annex B stream), with four-byte NAL unit lengths.
    public init(sequenceParameterSet sps: ByteBuffer, pictureParameterSet pps: ByteBuffer) throws {
        guard sps.readableBytes >= 4, sps.readableBytes <= Int(UInt16.max), pps.readableBytes <= Int(UInt16.max) else {
            throw H264Error.missingParameterSets(sps: sps.readableBytes >= 4 ? 1 : 0, pps: 1)
        }
        var record = ByteBuffer()
        record.writeInteger(UInt8(1))
        record.writeImmutableBuffer(sps.getSlice(at: sps.readerIndex + 1, length: 3)!)  // profile, compatibility, level
        record.writeInteger(UInt8(0xFF))   // reserved, lengthSizeMinusOne 3
        record.writeInteger(UInt8(0xE1))   // reserved, one SPS
        record.writeInteger(UInt16(sps.readableBytes))
        record.writeImmutableBuffer(sps)
        record.writeInteger(UInt8(1))
        record.writeInteger(UInt16(pps.readableBytes))
        record.writeImmutableBuffer(pps)
        try self.init(parsing: record)
    }

    /// The RFC 6381 codec string `avc1.PPCCLL`.
    public var codecString: String {
        "avc1." + [profileIndication, profileCompatibility, levelIndication].map(\.hex2).joined()
    }
}

extension UInt8 {
    /// Two lowercase hex digits.
    var hex2: String {
        let digits = Array("0123456789abcdef")
        return String([digits[Int(self >> 4)], digits[Int(self & 0x0F)]])
    }
}
