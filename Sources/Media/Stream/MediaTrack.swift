/// The kind of an elementary stream.
public enum TrackKind: String, Sendable, Hashable {
    case video
    case audio
}

/// One elementary stream's codec and its decoder configuration, as announced by the publisher
/// (an AVC sequence header or an AAC AudioSpecificConfig).
public enum MediaTrack: Sendable, Equatable {
    /// H.264 video with its AVCDecoderConfigurationRecord.
    case h264(AVCDecoderConfigurationRecord)
    /// AAC audio with its AudioSpecificConfig.
    case aac(AudioSpecificConfig)

    /// Whether this track is audio or video.
    public var kind: TrackKind {
        switch self {
        case .h264: .video
        case .aac: .audio
        }
    }

    /// The RFC 6381 codec string, e.g. `avc1.64001f` or `mp4a.40.2`.
    public var codecString: String {
        switch self {
        case .h264(let record): record.codecString
        case .aac(let config): config.codecString
        }
    }
}
