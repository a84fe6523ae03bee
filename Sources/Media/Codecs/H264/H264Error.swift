/// Errors of the H.264 layer: configuration records, NAL unit framing and parameter sets.
public enum H264Error: Error, Equatable, Sendable {
    /// The record's configurationVersion is not 1.
    case unsupportedConfigurationVersion(UInt8)
    /// lengthSizeMinusOne gave a size that H.264 does not allow.
    case invalidNALUnitLengthSize(Int)
    /// A usable record needs at least one SPS and one PPS.
    case missingParameterSets(sps: Int, pps: Int)
    /// A NAL unit length prefix points past the end of the sample.
    case nalUnitOverrun(length: Int, available: Int)
    /// A NAL unit of another type was given where `expected` was required.
    case unexpectedNALUnitType(NALUnitType, expected: NALUnitType)
    /// A parameter set field is outside the range H.264 allows (`limit` is the largest allowed value).
    case parameterOutOfRange(field: String, value: Int, limit: Int)
}
