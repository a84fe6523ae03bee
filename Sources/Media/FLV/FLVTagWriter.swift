import NIOCore

/// Writes FLV tag bodies (the payloads of RTMP audio, video and data messages) from tracks and
/// samples: the inverse of ``FLVDemuxer``, so a broadcast goes on over RTMP as it came in.
///
/// ```
/// video: 0x17 (keyframe, AVC) or 0x27 | AVCPacketType (0 header, 1 NALUs) | CompositionTime (SI24, ms) | data
/// audio: 0xAF (AAC, 44 kHz, 16 bit, stereo: fixed for AAC) | AACPacketType (0 header, 1 raw) | data
/// ```
public enum FLVTagWriter {
    /// The AVC sequence header tag body (the AVCDecoderConfigurationRecord as announced).
    public static func sequenceHeader(_ track: MediaTrack) -> ByteBuffer {
        var body = ByteBuffer()
        switch track {
        case .h264(let record):
            body.writeBytes([0x17, 0x00, 0x00, 0x00, 0x00])
            body.writeImmutableBuffer(record.bytes)
        case .aac(let config):
            body.writeBytes([0xAF, 0x00])
            body.writeImmutableBuffer(config.bytes)
        }
        return body
    }

    /// The tag body of one access unit. The composition time is pts − dts in milliseconds.
    public static func body(_ sample: MediaSample) -> ByteBuffer {
        var body = ByteBuffer()
        switch sample.kind {
        case .video:
            body.reserveCapacity(5 + sample.payload.readableBytes)
            let composition = Int32(clamping: MediaTime.milliseconds(ticks: sample.pts - sample.dts))
            body.writeInteger(UInt8(sample.isKeyframe ? 0x17 : 0x27))
            body.writeInteger(UInt8(1))
            let clamped = min(max(composition, -0x80_0000), 0x7F_FFFF)
            body.writeUInt24(UInt32(bitPattern: clamped) & 0xFF_FFFF)
        case .audio:
            body.reserveCapacity(2 + sample.payload.readableBytes)
            body.writeBytes([0xAF, 0x01])
        }
        body.writeImmutableBuffer(sample.payload)
        return body
    }

    /// `@setDataFrame onMetaData` with what the tracks say (codec ids, size, sample rate), so a
    /// receiving server waits for both tracks' headers as it would from an encoder.
    public static func metadata(video: MediaTrack?, audio: MediaTrack?) -> ByteBuffer {
        var properties: [(String, AMFValue)] = [("duration", .number(0))]
        if case .h264(let record) = video {
            properties.append(("videocodecid", .number(7)))
            if let sps = record.sequenceParameterSets.first, let parsed = try? SequenceParameterSet(parsing: sps) {
                properties.append(("width", .number(Double(parsed.width))))
                properties.append(("height", .number(Double(parsed.height))))
                if let rate = parsed.frameRate { properties.append(("framerate", .number(rate))) }
            }
        }
        if case .aac(let config) = audio {
            properties.append(("audiocodecid", .number(10)))
            properties.append(("audiosamplerate", .number(Double(config.sampleRate))))
            properties.append(("stereo", .boolean(config.channelConfiguration >= 2)))
        }
        properties.append(("encoder", .string("onair")))
        let object = AMFValue.ecmaArray(properties.map { AMFProperty(key: $0.0, value: $0.1) })
        return AMF0Encoder().encode([.string("@setDataFrame"), .string("onMetaData"), object])
    }
}
