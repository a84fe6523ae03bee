import NIOCore

/// The sample description of a track (`stsd` entry, ISO/IEC 14496-12 §8.5.2): which codec, and the
/// decoder configuration it needs. One case per codec; HEVC (`hvc1`/`hvcC`, ISO/IEC 14496-15 §8.4)
/// and Opus (`Opus`/`dOps`) add a case and a file each.
public enum SampleEntry: Sendable, Equatable {
    case avc1(AVCSampleEntry)
    case mp4a(MP4AudioSampleEntry)

    /// The handler of a track with this entry (`hdlr`, §8.4.3).
    public var handler: FourCC {
        switch self {
        case .avc1: "vide"
        case .mp4a: "soun"
        }
    }

    public func write(into buffer: inout ByteBuffer) {
        switch self {
        case .avc1(let entry): entry.write(into: &buffer)
        case .mp4a(let entry): entry.write(into: &buffer)
        }
    }
}

extension ByteBuffer {
    /// The fields every SampleEntry starts with (§8.5.2.2): six reserved bytes and
    /// data_reference_index 1 (the `dref` entry saying "in this file").
    mutating func writeSampleEntryHeader() {
        writeZeros(6)
        writeInteger(UInt16(1))
    }
}
