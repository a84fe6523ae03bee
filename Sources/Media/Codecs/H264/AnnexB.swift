import NIOCore

/// AVCC (ISO/IEC 14496-15 §5.3.2, length-prefixed NAL units, as in FLV/MP4) to Annex B
/// (ITU-T H.264 Annex B byte stream, start-code-prefixed NAL units, as in MPEG-TS).
///
/// ```
/// AVCC:    | length (1/2/4 bytes) | NAL unit | length | NAL unit | ...
/// Annex B: | 00 00 00 01 | 09 F0 (AUD) | 00 00 00 01 | SPS | 00 00 00 01 | PPS | 00 00 00 01 | NAL unit | ...
/// ```
///
/// MPEG-TS carriage (ISO/IEC 13818-1 §2.14) wants an access unit delimiter first in every access
/// unit, and players joining mid-stream need SPS/PPS in band before every IDR picture.
public enum AnnexB {
    /// The four-byte start code written before every NAL unit.
    public static let startCode: [UInt8] = [0x00, 0x00, 0x00, 0x01]
    /// An access unit delimiter NAL unit: header 0x09, primary_pic_type 7 (any slice type) + stop bit.
    public static let accessUnitDelimiter: [UInt8] = [0x09, 0xF0]

    /// Splits an AVCC sample into its NAL units (slices of `payload`, no copy). Zero-length units are skipped.
    ///
    /// Throws ``H264Error/invalidNALUnitLengthSize(_:)`` for a length size outside 1...4 and
    /// ``H264Error/nalUnitOverrun(length:available:)`` when a length prefix (or the prefix itself)
    /// runs past the end of the payload.
    public static func nalUnits(inAVCC payload: ByteBuffer, nalUnitLengthSize: Int) throws -> [ByteBuffer] {
        guard (1...4).contains(nalUnitLengthSize) else { throw H264Error.invalidNALUnitLengthSize(nalUnitLengthSize) }
        var rest = payload
        var units: [ByteBuffer] = []
        while rest.readableBytes > 0 {
            guard let prefix = rest.readBytes(length: nalUnitLengthSize) else {
                throw H264Error.nalUnitOverrun(length: nalUnitLengthSize, available: rest.readableBytes)
            }
            let length = prefix.reduce(0) { $0 << 8 | Int($1) }
            guard let unit = rest.readSlice(length: length) else {
                throw H264Error.nalUnitOverrun(length: length, available: rest.readableBytes)
            }
            if length > 0 { units.append(unit) }
        }
        return units
    }

    /// The NAL unit types present in an AVCC sample (IDR 5, SPS 7, PPS 8, AUD 9, ...).
    public static func nalUnitTypes(inAVCC payload: ByteBuffer, nalUnitLengthSize: Int) throws -> Set<NALUnitType> {
        Set(try nalUnits(inAVCC: payload, nalUnitLengthSize: nalUnitLengthSize).map(nalType(of:)))
    }

    /// Converts one AVCC access unit to Annex B and appends it to `buffer`.
    ///
    /// Writes an access unit delimiter first (AUDs already in the sample are dropped so there is
    /// exactly one, at the start). When the sample contains an IDR slice and does not already carry
    /// both an SPS and a PPS, the parameter sets of `parameterSets` are inserted after the AUD.
    /// Nothing is written when the sample is malformed (the whole sample is validated first).
    public static func convert(
        avcc payload: ByteBuffer,
        nalUnitLengthSize: Int,
        parameterSets: AVCDecoderConfigurationRecord?,
        into buffer: inout ByteBuffer
    ) throws {
        let units = try nalUnits(inAVCC: payload, nalUnitLengthSize: nalUnitLengthSize)
        let types = Set(units.map(nalType(of:)))
        buffer.writeBytes(startCode)
        buffer.writeBytes(accessUnitDelimiter)
        if let parameterSets, types.contains(.idrSlice),
            !(types.contains(.sequenceParameterSet) && types.contains(.pictureParameterSet))
        {
            for unit in parameterSets.sequenceParameterSets + parameterSets.pictureParameterSets {
                buffer.writeBytes(startCode)
                buffer.writeImmutableBuffer(unit)
            }
        }
        for unit in units where nalType(of: unit) != .accessUnitDelimiter {
            buffer.writeBytes(startCode)
            buffer.writeImmutableBuffer(unit)
        }
    }

    /// Converts one AVCC access unit to a new Annex B buffer; see ``convert(avcc:nalUnitLengthSize:parameterSets:into:)``.
    public static func convert(
        avcc payload: ByteBuffer,
        nalUnitLengthSize: Int,
        parameterSets: AVCDecoderConfigurationRecord? = nil
    ) throws -> ByteBuffer {
        var buffer = ByteBuffer()
        buffer.reserveCapacity(payload.readableBytes + 64)
        try convert(avcc: payload, nalUnitLengthSize: nalUnitLengthSize, parameterSets: parameterSets, into: &buffer)
        return buffer
    }

    /// The type of a non-empty NAL unit, from its header byte.
    static func nalType(of unit: ByteBuffer) -> NALUnitType {
        NALUnitType(headerByte: unit.getInteger(at: unit.readerIndex, as: UInt8.self) ?? 0)
    }
}

extension AnnexB {
    /// The NAL units of an Annex B byte stream (start codes of three or four bytes; the zero bytes
    /// that pad a unit before the next start code are not part of it). Slices of `stream`, no copy.
    public static func nalUnits(inAnnexB stream: ByteBuffer) -> [ByteBuffer] {
        var starts: [(code: Int, unit: Int)] = []
        stream.withUnsafeReadableBytes { bytes in
            var index = 0
            while index + 3 <= bytes.count {
                if bytes[index + 2] > 1 {
                    index += 3
                } else if bytes[index] == 0, bytes[index + 1] == 0, bytes[index + 2] == 1 {
                    starts.append((index, index + 3))
                    index += 3
                } else {
                    index += 1
                }
            }
        }
        var units: [ByteBuffer] = []
        for (position, start) in starts.map(\.unit).enumerated() {
            var end = position + 1 < starts.count ? starts[position + 1].code : stream.readableBytes
            while end > start, stream.getInteger(at: stream.readerIndex + end - 1, as: UInt8.self) == 0 { end -= 1 }
            if end > start { units.append(stream.getSlice(at: stream.readerIndex + start, length: end - start)!) }
        }
        return units
    }

    /// An Annex B access unit as an AVCC sample with four-byte lengths, for an MP4 whose sample entry
    /// carries the parameter sets: access unit delimiters, SPS and PPS are left out of the sample and
    /// returned, with whether the unit holds an IDR slice.
    public static func avcc(fromAnnexB stream: ByteBuffer) -> (sample: ByteBuffer, isIDR: Bool, sps: [ByteBuffer], pps: [ByteBuffer]) {
        var sample = ByteBuffer()
        sample.reserveCapacity(stream.readableBytes)
        var isIDR = false
        var sps: [ByteBuffer] = [], pps: [ByteBuffer] = []
        for unit in nalUnits(inAnnexB: stream) {
            switch nalType(of: unit) {
            case .accessUnitDelimiter: continue
            case .sequenceParameterSet: sps.append(unit)
            case .pictureParameterSet: pps.append(unit)
            default:
                if nalType(of: unit) == .idrSlice { isIDR = true }
                sample.writeInteger(UInt32(unit.readableBytes))
                sample.writeImmutableBuffer(unit)
            }
        }
        return (sample, isIDR, sps, pps)
    }
}
