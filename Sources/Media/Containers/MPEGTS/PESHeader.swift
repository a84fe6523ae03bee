import NIOCore

/// PES_packet header, ISO/IEC 13818-1 §2.4.3.6/§2.4.3.7, with PTS and optional DTS.
///
/// ```
/// packet_start_code_prefix (24) = 00 00 01 | stream_id (8) | PES_packet_length (16)
/// '10' | scrambling (2) | priority (1) | data_alignment (1) | copyright (1) | original (1)   = 0x80
/// PTS_DTS_flags (2) | ESCR .. extension flags (6)                                            = 0x80 / 0xC0
/// PES_header_data_length (8) = 5 / 10
/// PTS: '0010'/'0011' | PTS[32..30] | 1 | PTS[29..15] | 1 | PTS[14..0] | 1     (5 bytes)
/// DTS: '0001'        | DTS[32..30] | 1 | DTS[29..15] | 1 | DTS[14..0] | 1     (5 bytes)
/// ```
public struct PESHeader: Sendable, Equatable {
    /// stream_id of the first video stream.
    public static let videoStreamID: UInt8 = 0xE0
    /// stream_id of the first audio stream.
    public static let audioStreamID: UInt8 = 0xC0
    /// PTS/DTS are 33-bit counts of the 90 kHz clock.
    public static let timestampModulus: Int64 = 1 << 33
    /// Largest PES_packet_length.
    public static let maximumPacketLength = Int(UInt16.max)

    /// stream_id.
    public var streamID: UInt8
    /// Presentation timestamp in 90 kHz ticks; written modulo 2^33.
    public var pts: Int64
    /// Decode timestamp in 90 kHz ticks when it differs from the PTS; written modulo 2^33.
    public var dts: Int64?
    /// Length of the elementary stream data after the header, or nil to write PES_packet_length 0
    /// (unbounded, allowed for video in transport streams, §2.4.3.7).
    public var payloadLength: Int?

    /// Creates a header.
    public init(streamID: UInt8, pts: Int64, dts: Int64?, payloadLength: Int?) {
        self.streamID = streamID
        self.pts = pts
        self.dts = dts
        self.payloadLength = payloadLength
    }

    /// Size of the header in bytes: 14 with PTS only, 19 with PTS and DTS.
    public var size: Int { dts == nil ? 14 : 19 }

    /// `ticks` reduced into 0..<2^33 (also for negative values).
    public static func wrap(_ ticks: Int64) -> Int64 {
        let remainder = ticks % timestampModulus
        return remainder < 0 ? remainder + timestampModulus : remainder
    }

    /// The five bytes of a PTS or DTS field with the 4-bit `prefix`, value taken modulo 2^33.
    public static func timestampBytes(prefix: UInt8, _ ticks: Int64) -> [UInt8] {
        let value = wrap(ticks)
        return [
            prefix << 4 | UInt8(truncatingIfNeeded: value >> 29) & 0x0E | 0x01,
            UInt8(truncatingIfNeeded: value >> 22),
            UInt8(truncatingIfNeeded: value >> 14) | 0x01,
            UInt8(truncatingIfNeeded: value >> 7),
            UInt8(truncatingIfNeeded: value << 1) | 0x01,
        ]
    }

    /// Appends the header. Throws ``MPEGTSError/pesPacketTooLarge(length:limit:)`` when
    /// `payloadLength` does not fit PES_packet_length.
    public func write(into buffer: inout ByteBuffer) throws {
        var packetLength = 0
        if let payloadLength {
            packetLength = size - 6 + payloadLength
            guard packetLength <= Self.maximumPacketLength else {
                throw MPEGTSError.pesPacketTooLarge(length: packetLength, limit: Self.maximumPacketLength)
            }
        }
        buffer.writeBytes([0x00, 0x00, 0x01, streamID])
        buffer.writeInteger(UInt16(packetLength))
        buffer.writeInteger(UInt8(0x80))
        if let dts {
            buffer.writeBytes([0xC0, 10])
            buffer.writeBytes(Self.timestampBytes(prefix: 0x3, pts))
            buffer.writeBytes(Self.timestampBytes(prefix: 0x1, dts))
        } else {
            buffer.writeBytes([0x80, 5])
            buffer.writeBytes(Self.timestampBytes(prefix: 0x2, pts))
        }
    }
}
