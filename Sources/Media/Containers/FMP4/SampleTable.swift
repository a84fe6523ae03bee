import NIOCore

/// The sample tables of a track of a progressive MP4 (ISO/IEC 14496-12 §8.5 and §8.6), one sample per
/// chunk, in decode order:
///
/// ```
/// stts §8.6.1.2  decode deltas, run-length coded
/// ctts §8.6.1.3  composition offsets, v1 (signed); only when some offset is not 0
/// stss §8.6.2    sync samples (1-based); left out when every sample is one (audio)
/// stsc §8.7.4    one entry: every chunk holds one sample of description 1
/// stsz §8.7.3    each sample's size
/// stco §8.7.5    each chunk's file offset; co64 (``largeOffsets``) for a file past 4 GiB
/// ```
public struct SampleTable: Sendable, Equatable {
    public var durations: [UInt32] = []
    public var compositionOffsets: [Int32] = []
    public var sizes: [UInt32] = []
    public var isSync: [Bool] = []
    public var chunkOffsets: [UInt64] = []
    /// co64 (64-bit offsets) rather than stco; chosen by the file's size, so a sizing pass with
    /// placeholder offsets writes the same box.
    public var largeOffsets = false

    public init() {}

    public var count: Int { sizes.count }

    /// Sum of the decode deltas, in the track's timescale.
    public var duration: UInt64 { durations.reduce(UInt64(0)) { $0 + UInt64($1) } }

    public func write(into stbl: inout ByteBuffer) {
        stbl.writeFullBox("stts", version: 0, flags: 0) { stts in
            var runs: [(count: UInt32, delta: UInt32)] = []
            for delta in durations {
                if let last = runs.last, last.delta == delta { runs[runs.count - 1].count += 1 } else { runs.append((1, delta)) }
            }
            stts.writeInteger(UInt32(runs.count))
            for run in runs {
                stts.writeInteger(run.count)
                stts.writeInteger(run.delta)
            }
        }
        if compositionOffsets.contains(where: { $0 != 0 }) {
            stbl.writeFullBox("ctts", version: 1, flags: 0) { ctts in
                var runs: [(count: UInt32, offset: Int32)] = []
                for offset in compositionOffsets {
                    if let last = runs.last, last.offset == offset { runs[runs.count - 1].count += 1 } else { runs.append((1, offset)) }
                }
                ctts.writeInteger(UInt32(runs.count))
                for run in runs {
                    ctts.writeInteger(run.count)
                    ctts.writeInteger(run.offset)
                }
            }
        }
        if isSync.contains(false) {
            stbl.writeFullBox("stss", version: 0, flags: 0) { stss in
                let sync = isSync.indices.filter { isSync[$0] }
                stss.writeInteger(UInt32(sync.count))
                for index in sync { stss.writeInteger(UInt32(index + 1)) }
            }
        }
        stbl.writeFullBox("stsc", version: 0, flags: 0) { stsc in
            stsc.writeInteger(UInt32(1))
            stsc.writeInteger(UInt32(1))  // first_chunk
            stsc.writeInteger(UInt32(1))  // samples_per_chunk
            stsc.writeInteger(UInt32(1))  // sample_description_index
        }
        stbl.writeFullBox("stsz", version: 0, flags: 0) { stsz in
            stsz.writeInteger(UInt32(0))
            stsz.writeInteger(UInt32(sizes.count))
            for size in sizes { stsz.writeInteger(size) }
        }
        if largeOffsets {
            stbl.writeFullBox("co64", version: 0, flags: 0) { co64 in
                co64.writeInteger(UInt32(chunkOffsets.count))
                for offset in chunkOffsets { co64.writeInteger(offset) }
            }
        } else {
            stbl.writeFullBox("stco", version: 0, flags: 0) { stco in
                stco.writeInteger(UInt32(chunkOffsets.count))
                for offset in chunkOffsets { stco.writeInteger(UInt32(truncatingIfNeeded: offset)) }
            }
        }
    }
}
