import NIOCore

/// `mvhd`, ISO/IEC 14496-12 §8.2.2 (version 0): the movie's timescale (1000: milliseconds), its
/// duration (0 for a fragmented file, whose length is not known), rate 1.0, volume 1.0, the unity
/// matrix and the next free track_ID.
public struct MovieHeaderBox: Sendable, Equatable {
    public static let timescale: UInt32 = 1000
    public var duration: UInt64
    public var nextTrackID: UInt32

    public init(duration: UInt64 = 0, nextTrackID: UInt32) {
        self.duration = duration
        self.nextTrackID = nextTrackID
    }

    public func write(into buffer: inout ByteBuffer) {
        buffer.writeFullBox("mvhd", version: 0, flags: 0) { mvhd in
            mvhd.writeZeros(8)                            // creation, modification time
            mvhd.writeInteger(Self.timescale)
            mvhd.writeInteger(UInt32(clamping: duration))
            mvhd.writeInteger(UInt32(0x0001_0000))        // rate 1.0
            mvhd.writeInteger(UInt16(0x0100))             // volume 1.0
            mvhd.writeZeros(10)
            for value in TrackBox.unityMatrix { mvhd.writeInteger(value) }
            mvhd.writeZeros(24)                           // pre_defined
            mvhd.writeInteger(nextTrackID)
        }
    }
}
