/// Errors of the MPEG-TS muxer. Codec-level problems inside a sample surface as ``H264Error``
/// (e.g. a NAL unit length running past the sample) or ``AACError`` (not representable in ADTS).
public enum MPEGTSError: Error, Equatable, Sendable {
    /// A sample arrived for a track the muxer was not created with (its PMT does not list it).
    case trackNotConfigured(TrackKind)
    /// A PES packet longer than PES_packet_length's 16 bits can describe (for streams that need a length).
    case pesPacketTooLarge(length: Int, limit: Int)
}
