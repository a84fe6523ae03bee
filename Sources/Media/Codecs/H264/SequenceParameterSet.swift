import NIOCore

/// seq_parameter_set_rbsp, ITU-T H.264 §7.3.2.1.1, and the timing part of vui_parameters (Annex E.1.1).
///
/// ```
/// NAL header (8) = 0x67 | profile_idc (8) | constraint_set flags (8) | level_idc (8)
/// seq_parameter_set_id ue | [high profiles: chroma_format_idc ue, ..., scaling lists]
/// log2_max_frame_num_minus4 ue | pic_order_cnt_type ue [...] | max_num_ref_frames ue | gaps (1)
/// pic_width_in_mbs_minus1 ue | pic_height_in_map_units_minus1 ue | frame_mbs_only_flag (1) [...]
/// frame_cropping_flag (1) [left right top bottom ue] | vui_parameters_present_flag (1) [VUI]
/// ```
///
/// Only what packaging needs is kept: profile, level, the displayed size and the frame rate.
public struct SequenceParameterSet: Sendable, Equatable {
    /// profile_idc (66 Baseline, 77 Main, 100 High, ...).
    public var profileIndication: UInt8
    /// The constraint_set flags byte.
    public var profileCompatibility: UInt8
    /// level_idc (31 = level 3.1).
    public var levelIndication: UInt8
    /// chroma_format_idc: 0 monochrome, 1 4:2:0, 2 4:2:2, 3 4:4:4.
    public var chromaFormat: Int
    /// Displayed width in pixels, after cropping.
    public var width: Int
    /// Displayed height in pixels, after cropping (both fields for interlaced coding).
    public var height: Int
    /// frame_mbs_only_flag: false when the stream may code fields (interlaced).
    public var isFrameMacroblocksOnly: Bool
    /// num_units_in_tick of the VUI timing info, when present.
    public var numUnitsInTick: UInt32?
    /// time_scale of the VUI timing info, when present.
    public var timeScale: UInt32?

    /// Limit on pic_width_in_mbs / pic_height_in_map_units: far above level 6.2's 139264 macroblocks per frame side.
    public static let maximumMacroblocksPerSide = 1 << 14

    /// Frames per second from the VUI timing info (`time_scale / (2 * num_units_in_tick)`), or nil.
    public var frameRate: Double? {
        guard let numUnitsInTick, let timeScale, numUnitsInTick > 0, timeScale > 0 else { return nil }
        return Double(timeScale) / (2 * Double(numUnitsInTick))
    }

    /// One frame in 90 kHz ticks, from ``frameRate`` when it is from 1 up to 1,000 fps, else nil. A
    /// hostile VUI claims anything (num_units_in_tick 0xFFFFFFFF and time_scale 1: a frame of
    /// 8.6e9 s, whose step overflowed the clock arithmetic of the muxers; found by the fuzzer).
    public var frameDuration: Int64? {
        guard let frameRate, frameRate >= 1, frameRate < 1000 else { return nil }
        return Int64((Double(MediaTime.timescale) / frameRate).rounded())
    }

    /// Parses an SPS NAL unit (starting with its header byte, emulation prevention bytes included).
    /// Throws ``H264Error``, ``PayloadError`` or ``BitReaderError`` on malformed or truncated input.
    public init(parsing nalUnit: ByteBuffer) throws {
        var bits = BitReader(RawByteSequencePayload.unescaping(nalUnit))
        let type = NALUnitType(headerByte: UInt8(try bits.read(8)))
        guard type == .sequenceParameterSet else {
            throw H264Error.unexpectedNALUnitType(type, expected: .sequenceParameterSet)
        }
        profileIndication = UInt8(try bits.read(8))
        profileCompatibility = UInt8(try bits.read(8))
        levelIndication = UInt8(try bits.read(8))
        _ = try Self.ue(&bits, "seq_parameter_set_id", limit: 31)

        chromaFormat = 1
        var separateColourPlanes = false
        if Self.highProfiles.contains(profileIndication) {
            chromaFormat = try Self.ue(&bits, "chroma_format_idc", limit: 3)
            if chromaFormat == 3 { separateColourPlanes = try bits.readFlag() }
            _ = try Self.ue(&bits, "bit_depth_luma_minus8", limit: 6)
            _ = try Self.ue(&bits, "bit_depth_chroma_minus8", limit: 6)
            try bits.skip(1)  // qpprime_y_zero_transform_bypass_flag
            if try bits.readFlag() {  // seq_scaling_matrix_present_flag
                for index in 0..<(chromaFormat == 3 ? 12 : 8) where try bits.readFlag() {
                    try Self.skipScalingList(&bits, size: index < 6 ? 16 : 64)
                }
            }
        }
        _ = try Self.ue(&bits, "log2_max_frame_num_minus4", limit: 12)
        let pictureOrderCountType = try Self.ue(&bits, "pic_order_cnt_type", limit: 2)
        if pictureOrderCountType == 0 {
            _ = try Self.ue(&bits, "log2_max_pic_order_cnt_lsb_minus4", limit: 12)
        } else if pictureOrderCountType == 1 {
            try bits.skip(1)  // delta_pic_order_always_zero_flag
            _ = try bits.readSE()  // offset_for_non_ref_pic
            _ = try bits.readSE()  // offset_for_top_to_bottom_field
            let cycle = try Self.ue(&bits, "num_ref_frames_in_pic_order_cnt_cycle", limit: 255)
            for _ in 0..<cycle { _ = try bits.readSE() }
        }
        _ = try bits.readUE()  // max_num_ref_frames
        try bits.skip(1)  // gaps_in_frame_num_value_allowed_flag
        let widthInMacroblocks = try Self.ue(&bits, "pic_width_in_mbs_minus1", limit: Self.maximumMacroblocksPerSide - 1) + 1
        let heightInMapUnits = try Self.ue(&bits, "pic_height_in_map_units_minus1", limit: Self.maximumMacroblocksPerSide - 1) + 1
        isFrameMacroblocksOnly = try bits.readFlag()
        if !isFrameMacroblocksOnly { try bits.skip(1) }  // mb_adaptive_frame_field_flag
        try bits.skip(1)  // direct_8x8_inference_flag

        // §7.4.2.1.1: crop units depend on ChromaArrayType and on field coding.
        let fieldFactor = isFrameMacroblocksOnly ? 1 : 2
        let chromaArrayType = separateColourPlanes ? 0 : chromaFormat
        let cropUnitX = chromaArrayType == 0 || chromaArrayType == 3 ? 1 : 2
        let cropUnitY = (chromaArrayType == 1 ? 2 : 1) * fieldFactor
        let codedWidth = widthInMacroblocks * 16
        let codedHeight = heightInMapUnits * 16 * fieldFactor
        var crop = (left: 0, right: 0, top: 0, bottom: 0)
        if try bits.readFlag() {  // frame_cropping_flag
            crop.left = try Self.ue(&bits, "frame_crop_left_offset", limit: codedWidth)
            crop.right = try Self.ue(&bits, "frame_crop_right_offset", limit: codedWidth)
            crop.top = try Self.ue(&bits, "frame_crop_top_offset", limit: codedHeight)
            crop.bottom = try Self.ue(&bits, "frame_crop_bottom_offset", limit: codedHeight)
        }
        width = codedWidth - cropUnitX * (crop.left + crop.right)
        height = codedHeight - cropUnitY * (crop.top + crop.bottom)
        guard width > 0 else { throw H264Error.parameterOutOfRange(field: "frame_crop_left/right_offset", value: crop.left + crop.right, limit: (codedWidth - 1) / cropUnitX) }
        guard height > 0 else { throw H264Error.parameterOutOfRange(field: "frame_crop_top/bottom_offset", value: crop.top + crop.bottom, limit: (codedHeight - 1) / cropUnitY) }

        numUnitsInTick = nil
        timeScale = nil
        if try bits.readFlag() {  // vui_parameters_present_flag
            try readTiming(&bits)
        }
    }

    /// Reads vui_parameters up to and including timing_info (Annex E.1.1).
    private mutating func readTiming(_ bits: inout BitReader) throws {
        if try bits.readFlag() {  // aspect_ratio_info_present_flag
            if try bits.read(8) == 255 { try bits.skip(32) }  // Extended_SAR: sar_width, sar_height
        }
        if try bits.readFlag() { try bits.skip(1) }  // overscan_info_present_flag, overscan_appropriate_flag
        if try bits.readFlag() {  // video_signal_type_present_flag
            try bits.skip(4)  // video_format, video_full_range_flag
            if try bits.readFlag() { try bits.skip(24) }  // colour_primaries, transfer, matrix
        }
        if try bits.readFlag() {  // chroma_loc_info_present_flag
            _ = try bits.readUE()
            _ = try bits.readUE()
        }
        if try bits.readFlag() {  // timing_info_present_flag
            numUnitsInTick = UInt32(try bits.read(32))
            timeScale = UInt32(try bits.read(32))
        }
    }

    /// profile_idc values whose SPS carries chroma format, bit depth and scaling matrices.
    static let highProfiles: Set<UInt8> = [100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135]

    /// Reads ue(v) and checks it against `limit`.
    private static func ue(_ bits: inout BitReader, _ field: String, limit: Int) throws -> Int {
        let value = Int(try bits.readUE())
        guard value <= limit else { throw H264Error.parameterOutOfRange(field: field, value: value, limit: limit) }
        return value
    }

    /// Skips scaling_list() of §7.3.2.1.1.1.
    private static func skipScalingList(_ bits: inout BitReader, size: Int) throws {
        var lastScale = 8
        var nextScale = 8
        for _ in 0..<size where nextScale != 0 {
            let delta = Int(try bits.readSE())
            nextScale = (lastScale + delta + 256) % 256
            lastScale = nextScale == 0 ? lastScale : nextScale
        }
    }
}
