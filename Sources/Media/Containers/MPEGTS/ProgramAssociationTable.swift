import NIOCore

/// program_association_section, ISO/IEC 13818-1 §2.4.4.3, for a single program.
///
/// ```
/// table_id (8) = 0x00 | syntax (1) = 1 | '0' | reserved (2) | section_length (12)
/// transport_stream_id (16) | reserved (2) | version (5) | current_next (1)
/// section_number (8) = 0 | last_section_number (8) = 0
/// program_number (16) | reserved (3) | program_map_PID (13)
/// CRC_32 (32)
/// ```
/// ffmpeg's PAT for program 1 -> PMT 0x1000: `00 B0 0D 00 01 C1 00 00 00 01 F0 00 2A B1 04 B2`.
public struct ProgramAssociationTable: Sendable, Equatable {
    /// transport_stream_id.
    public var transportStreamID: UInt16 = 1
    /// The one program's number.
    public var programNumber: UInt16 = 1
    /// PID of that program's PMT.
    public var programMapPID: UInt16

    /// Creates a table pointing program 1 at `programMapPID`.
    public init(programMapPID: UInt16) { self.programMapPID = programMapPID }

    /// The section bytes, CRC included (no pointer_field).
    public var section: ByteBuffer {
        var body = ByteBuffer()
        body.writeInteger(transportStreamID)
        body.writeInteger(UInt8(0xC1))  // reserved '11', version 0, current_next 1
        body.writeInteger(UInt8(0))  // section_number
        body.writeInteger(UInt8(0))  // last_section_number
        body.writeInteger(programNumber)
        body.writeInteger(0xE000 | programMapPID & 0x1FFF)
        return PSISection.make(tableID: 0x00, body: body)
    }
}

/// The common long-form PSI section framing (§2.4.4.10 syntax, section_syntax_indicator = 1).
enum PSISection {
    /// `table_id`, the 12-bit section_length, `body`, then CRC_32 over everything before it.
    static func make(tableID: UInt8, body: ByteBuffer) -> ByteBuffer {
        var section = ByteBuffer()
        section.writeInteger(tableID)
        section.writeInteger(UInt16(0xB000) | UInt16(body.readableBytes + 4))  // syntax 1, '0', reserved '11'
        section.writeImmutableBuffer(body)
        section.writeInteger(CRC32MPEG.checksum(section))
        return section
    }
}
