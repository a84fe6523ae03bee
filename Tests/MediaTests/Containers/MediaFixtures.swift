import NIOCore
@testable import Media

/// Shared inputs for container and HLS tests: a real x264 1280x720 High profile configuration
/// and tiny synthetic samples.
enum MediaFixtures {
    /// SPS of `ffmpeg -f lavfi -i testsrc=size=1280x720:rate=30 -pix_fmt yuv420p -c:v libx264 -profile:v high`.
    static let sps720p = [UInt8](tsHex: "6764001facd9405005bb0110000003001000000303c0f1831960")
    /// PPS of the same encoding.
    static let pps720p = [UInt8](tsHex: "68ebe3cb22c0")

    /// AVCDecoderConfigurationRecord bytes with 4-byte NAL lengths.
    static func recordBytes(sps: [UInt8] = sps720p, pps: [UInt8] = pps720p, lengthSize: Int = 4) -> [UInt8] {
        [0x01, sps[1], sps[2], sps[3], 0xFC | UInt8(lengthSize - 1), 0xE1, 0x00, UInt8(sps.count)] + sps
            + [0x01, 0x00, UInt8(pps.count)] + pps
    }

    static func record(sps: [UInt8] = sps720p, pps: [UInt8] = pps720p, lengthSize: Int = 4) -> AVCDecoderConfigurationRecord {
        try! AVCDecoderConfigurationRecord(parsing: ByteBuffer(bytes: recordBytes(sps: sps, pps: pps, lengthSize: lengthSize)))
    }

    /// 48 kHz stereo AAC-LC.
    static let aac = AudioSpecificConfig(objectType: 2, samplingFrequencyIndex: 3, channelConfiguration: 2)

    /// An AVCC payload of NAL units with 4-byte lengths.
    static func avcc(_ units: [[UInt8]], lengthSize: Int = 4) -> ByteBuffer {
        var buffer = ByteBuffer()
        for unit in units {
            for shift in stride(from: (lengthSize - 1) * 8, through: 0, by: -8) {
                buffer.writeInteger(UInt8(truncatingIfNeeded: unit.count >> shift))
            }
            buffer.writeBytes(unit)
        }
        return buffer
    }

    /// A video sample: one IDR slice (type 5) or one non-IDR slice (type 1) of `size` bytes.
    static func video(dts: Int64, pts: Int64? = nil, key: Bool, size: Int = 40) -> MediaSample {
        let slice = [key ? 0x65 : 0x41] + [UInt8](repeating: 0xAB, count: size - 1)
        return MediaSample(kind: .video, dts: dts, pts: pts ?? dts, isKeyframe: key, payload: avcc([slice]))
    }

    /// An audio sample: a raw AAC frame of `size` bytes.
    static func audio(dts: Int64, size: Int = 20) -> MediaSample {
        MediaSample(kind: .audio, dts: dts, pts: dts, isKeyframe: true,
                    payload: ByteBuffer(bytes: [UInt8](repeating: 0x21, count: size)))
    }
}
