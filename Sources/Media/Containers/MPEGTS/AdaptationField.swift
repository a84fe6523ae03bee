import NIOCore

/// adaptation_field, ISO/IEC 13818-1 §2.4.3.4/§2.4.3.5: random access flag, PCR and stuffing.
///
/// ```
/// adaptation_field_length (8) | discontinuity (1) random_access (1) ES_priority (1) PCR_flag (1)
///   OPCR_flag (1) splicing_point (1) private_data (1) extension (1)
/// [PCR: program_clock_reference_base (33) | reserved (6) '111111' | extension (9)]
/// stuffing bytes 0xFF ...
/// ```
/// A field of total size 1 is just `adaptation_field_length = 0` (one byte of stuffing).
struct AdaptationField: Sendable, Equatable {
    /// random_access_indicator: the PES starting in this packet begins a random access point.
    var randomAccess = false
    /// 33-bit PCR base in 90 kHz ticks (already wrapped), extension always 0.
    var programClockReference: Int64?
    /// Whether a field is needed to carry flags or a PCR (stuffing alone may still need one).
    var carriesInformation: Bool { randomAccess || programClockReference != nil }

    /// Size in bytes of a field with flags (length byte + flags byte + PCR) before stuffing.
    var sizeWithFlags: Int { 2 + (programClockReference == nil ? 0 : 6) }

    /// Writes the field so that it occupies exactly `size` bytes (>= 1; >= ``sizeWithFlags`` when
    /// it carries information). Extra bytes become stuffing.
    func write(size: Int, into buffer: inout ByteBuffer) {
        precondition(size >= 1 && (!carriesInformation || size >= sizeWithFlags))
        buffer.writeInteger(UInt8(size - 1))
        guard size > 1 else { return }
        var flags: UInt8 = 0
        if randomAccess { flags |= 0x40 }
        if programClockReference != nil { flags |= 0x10 }
        buffer.writeInteger(flags)
        var written = 2
        if let base = programClockReference {
            buffer.writeBytes([
                UInt8(truncatingIfNeeded: base >> 25),
                UInt8(truncatingIfNeeded: base >> 17),
                UInt8(truncatingIfNeeded: base >> 9),
                UInt8(truncatingIfNeeded: base >> 1),
                UInt8(truncatingIfNeeded: (base & 1) << 7) | 0x7E,  // reserved bits, extension bit 8 = 0
                0x00,  // extension low 8 bits
            ])
            written += 6
        }
        buffer.writeRepeatingByte(0xFF, count: size - written)
    }
}
