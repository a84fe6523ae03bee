import NIOCore

/// TS_program_map_section, ISO/IEC 13818-1 §2.4.4.8, without descriptors.
///
/// ```
/// table_id (8) = 0x02 | syntax (1) = 1 | '0' | reserved (2) | section_length (12)
/// program_number (16) | reserved (2) | version (5) | current_next (1) | section_number 0 | last 0
/// reserved (3) | PCR_PID (13) | reserved (4) | program_info_length (12) = 0
/// { stream_type (8) | reserved (3) | elementary_PID (13) | reserved (4) | ES_info_length (12) = 0 }
/// CRC_32 (32)
/// ```
public struct ProgramMapTable: Sendable, Equatable {
    /// One elementary stream of the program.
    public struct Stream: Sendable, Equatable {
        /// stream_type (Table 2-34): 0x1B H.264, 0x0F AAC in ADTS.
        public var streamType: UInt8
        /// PID carrying the stream.
        public var pid: UInt16

        /// Creates an entry.
        public init(streamType: UInt8, pid: UInt16) {
            self.streamType = streamType
            self.pid = pid
        }
    }

    /// stream_type of H.264 video (ITU-T H.264 | ISO/IEC 14496-10).
    public static let h264StreamType: UInt8 = 0x1B
    /// stream_type of AAC audio with ADTS transport syntax (ISO/IEC 13818-7).
    public static let adtsAACStreamType: UInt8 = 0x0F
    /// PCR_PID value meaning "no PCR".
    public static let noPCRPID: UInt16 = 0x1FFF

    /// program_number; matches the PAT.
    public var programNumber: UInt16 = 1
    /// PID whose adaptation fields carry the PCR.
    public var pcrPID: UInt16
    /// The elementary streams, in order.
    public var streams: [Stream]

    /// Creates a table.
    public init(pcrPID: UInt16, streams: [Stream]) {
        self.pcrPID = pcrPID
        self.streams = streams
    }

    /// The section bytes, CRC included (no pointer_field).
    public var section: ByteBuffer {
        var body = ByteBuffer()
        body.writeInteger(programNumber)
        body.writeInteger(UInt8(0xC1))  // reserved '11', version 0, current_next 1
        body.writeInteger(UInt8(0))  // section_number
        body.writeInteger(UInt8(0))  // last_section_number
        body.writeInteger(0xE000 | pcrPID & 0x1FFF)
        body.writeInteger(UInt16(0xF000))  // program_info_length 0
        for stream in streams {
            body.writeInteger(stream.streamType)
            body.writeInteger(0xE000 | stream.pid & 0x1FFF)
            body.writeInteger(UInt16(0xF000))  // ES_info_length 0
        }
        return PSISection.make(tableID: 0x02, body: body)
    }
}
