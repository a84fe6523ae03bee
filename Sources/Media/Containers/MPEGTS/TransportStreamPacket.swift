import NIOCore

/// transport_packet, ISO/IEC 13818-1 §2.4.3.2: 188 bytes, a 4-byte header, then an optional
/// adaptation field and payload.
///
/// ```
/// sync_byte (8) = 0x47
/// transport_error (1) | payload_unit_start (1) | priority (1) | PID (13)
/// scrambling (2) = 00 | adaptation_field_control (2): 01 payload, 11 field + payload | continuity_counter (4)
/// [adaptation_field] payload ...
/// ```
/// The continuity counter counts payload-carrying packets per PID, modulo 16 (§2.4.3.3).
public enum TransportStreamPacket {
    /// Size of every packet.
    public static let size = 188
    /// The first byte of every packet.
    public static let syncByte: UInt8 = 0x47
    /// Size of the packet header.
    public static let headerSize = 4
    /// Bytes after the header.
    public static let bodySize = size - headerSize

    /// Splits a PES packet into transport packets of `pid`, the first with payload_unit_start set and,
    /// when `randomAccess` or `programClockReference` is given, an adaptation field carrying them.
    /// The last packet is padded with adaptation field stuffing.
    static func writePES(
        _ pes: ByteBuffer,
        pid: UInt16,
        continuityCounter: inout UInt8,
        randomAccess: Bool,
        programClockReference: Int64?,
        into buffer: inout ByteBuffer
    ) {
        var rest = pes
        var first = true
        buffer.reserveCapacity(buffer.writerIndex + (pes.readableBytes / 180 + 2) * size)
        repeat {
            var field = AdaptationField()
            if first {
                field.randomAccess = randomAccess
                field.programClockReference = programClockReference
            }
            let fieldSize = field.carriesInformation ? field.sizeWithFlags : 0
            let payloadSize = min(rest.readableBytes, bodySize - fieldSize)
            let paddedFieldSize = bodySize - payloadSize
            writeHeader(pid: pid, unitStart: first, hasAdaptationField: paddedFieldSize > 0,
                        continuityCounter: &continuityCounter, into: &buffer)
            if paddedFieldSize > 0 { field.write(size: paddedFieldSize, into: &buffer) }
            buffer.writeImmutableBuffer(rest.readSlice(length: payloadSize)!)
            first = false
        } while rest.readableBytes > 0
    }

    /// Writes one PSI section (at most 183 bytes) in a single packet: pointer_field 0, the section,
    /// then 0xFF filler (§2.4.4.1: PSI uses payload stuffing, not adaptation field stuffing).
    static func writeSection(
        _ section: ByteBuffer,
        pid: UInt16,
        continuityCounter: inout UInt8,
        into buffer: inout ByteBuffer
    ) {
        precondition(section.readableBytes < bodySize)
        writeHeader(pid: pid, unitStart: true, hasAdaptationField: false,
                    continuityCounter: &continuityCounter, into: &buffer)
        buffer.writeInteger(UInt8(0))  // pointer_field
        buffer.writeImmutableBuffer(section)
        buffer.writeRepeatingByte(0xFF, count: bodySize - 1 - section.readableBytes)
    }

    /// Writes the 4-byte header of a payload-carrying packet and advances the counter.
    private static func writeHeader(
        pid: UInt16,
        unitStart: Bool,
        hasAdaptationField: Bool,
        continuityCounter: inout UInt8,
        into buffer: inout ByteBuffer
    ) {
        buffer.writeInteger(syncByte)
        buffer.writeInteger((unitStart ? 0x4000 : 0) | (pid & 0x1FFF))
        buffer.writeInteger((hasAdaptationField ? 0x30 : 0x10) | (continuityCounter & 0x0F))
        continuityCounter = (continuityCounter + 1) & 0x0F
    }
}
