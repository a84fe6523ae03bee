import NIOCore

/// The body of an FLV audio tag as carried in an RTMP audio message (type 8).
/// Adobe FLV and F4V File Format Specification v10.1, E.4.2.1 (AUDIODATA, AACAUDIODATA).
///
/// ```
/// SoundFormat (4) | SoundRate (2) | SoundSize (1) | SoundType (1) | AACPacketType (8) | data
/// ```
/// AACPacketType: 0 = AudioSpecificConfig, 1 = raw AAC frame. SoundFormat 10 is AAC; onair refuses
/// every other format by name.
public enum FLVAudioTag: Sendable {
    /// An AudioSpecificConfig.
    case aacSequenceHeader(ByteBuffer)
    /// One raw AAC frame.
    case aacRaw(ByteBuffer)

    /// Parses a tag body; throws ``FLVError/unsupportedCodec(kind:name:)`` for anything but AAC.
    public init(parsing body: ByteBuffer) throws {
        var reader = PayloadReader(body)
        let first: UInt8 = try reader.read()
        let format = first >> 4
        guard format == 10 else {
            throw FLVError.unsupportedCodec(kind: .audio, name: FLVAudioTag.formatName(format))
        }
        let packetType: UInt8 = try reader.read()
        switch packetType {
        case 0: self = .aacSequenceHeader(reader.readRest())
        case 1: self = .aacRaw(reader.readRest())
        default: throw FLVError.invalidPacketType(packetType)
        }
    }

    /// Names of FLV SoundFormat values.
    static func formatName(_ format: UInt8) -> String {
        switch format {
        case 0, 3: "Linear PCM"
        case 1: "ADPCM"
        case 2: "MP3"
        case 4, 5, 6: "Nellymoser"
        case 7: "G.711 A-law"
        case 8: "G.711 mu-law"
        case 9: "Enhanced RTMP audio (Opus/FLAC/AC-3/E-AC-3)"
        case 11: "Speex"
        case 14: "MP3 8 kHz"
        default: "FLV sound format \(format)"
        }
    }
}

/// Errors of the FLV layer.
public enum FLVError: Error, Equatable, Sendable {
    /// The publisher sent a codec onair does not package; `name` says which.
    case unsupportedCodec(kind: TrackKind, name: String)
    /// An AVC/AAC packet type outside the specification.
    case invalidPacketType(UInt8)
    /// Too many samples waited for the track set to be known.
    case tooManyPendingSamples(limit: Int)
}
