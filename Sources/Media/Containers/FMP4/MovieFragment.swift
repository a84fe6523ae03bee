import NIOCore

/// One CMAF chunk: `moof` then `mdat` (ISO/IEC 23000-19 §7.3.2.3; ISO/IEC 14496-12 §8.8.4, §8.1.1).
/// With several tracks (muxed audio and video) the `moof` holds one `traf` per track and the `mdat`
/// their samples, track after track.
///
/// ```
/// moof
///   mfhd  §8.8.5   sequence_number: one more per fragment
///   traf  §8.8.6   per track
///     tfhd §8.8.7  flags 0x020000 default-base-is-moof: data offsets count from the moof's first byte
///     tfdt §8.8.12 v1: 64-bit baseMediaDecodeTime = decode time of the first sample, track timescale
///     trun §8.8.8  v1: flags 0x001 data-offset | 0x100 duration | 0x200 size [| 0x400 flags]
///                  [| 0x800 composition offset, signed in v1]; per sample those fields
/// mdat    §8.1.1   the samples' bytes (H.264: AVCC length-prefixed NAL units; AAC: raw frames)
/// ```
public struct MovieFragment: Sendable, Equatable {
    /// One sample of a run.
    public struct Sample: Sendable, Equatable {
        public var duration: UInt32
        public var size: UInt32
        /// nil for audio: every sample is sync, and the run carries no flags.
        public var flags: SampleFlags?
        /// PTS minus DTS in the track timescale.
        public var compositionOffset: Int32

        public init(duration: UInt32, size: UInt32, flags: SampleFlags? = nil, compositionOffset: Int32 = 0) {
            self.duration = duration
            self.size = size
            self.flags = flags
            self.compositionOffset = compositionOffset
        }
    }

    /// One track's samples in this fragment.
    public struct Run: Sendable, Equatable {
        public var trackID: UInt32
        public var baseMediaDecodeTime: UInt64
        public var samples: [Sample]
        /// The samples' bytes, in order; `samples[i].size` bytes each.
        public var data: ByteBuffer

        public init(trackID: UInt32, baseMediaDecodeTime: UInt64, samples: [Sample] = [], data: ByteBuffer = ByteBuffer()) {
            self.trackID = trackID
            self.baseMediaDecodeTime = baseMediaDecodeTime
            self.samples = samples
            self.data = data
        }
    }

    public var sequenceNumber: UInt32
    /// Runs with at least one sample; empty runs are not written.
    public var runs: [Run]

    public init(sequenceNumber: UInt32, runs: [Run]) {
        self.sequenceNumber = sequenceNumber
        self.runs = runs
    }

    static let dataOffsetPresent: UInt32 = 0x001
    static let durationPresent: UInt32 = 0x100
    static let sizePresent: UInt32 = 0x200
    static let flagsPresent: UInt32 = 0x400
    static let compositionOffsetPresent: UInt32 = 0x800
    static let defaultBaseIsMoof: UInt32 = 0x02_0000

    public func write(into buffer: inout ByteBuffer) {
        let runs = runs.filter { !$0.samples.isEmpty }
        let moofStart = buffer.writerIndex
        var dataOffsetFields: [Int] = []
        buffer.writeBox("moof") { moof in
            moof.writeFullBox("mfhd", version: 0, flags: 0) { $0.writeInteger(sequenceNumber) }
            for run in runs {
                moof.writeBox("traf") { traf in
                    traf.writeFullBox("tfhd", version: 0, flags: Self.defaultBaseIsMoof) { $0.writeInteger(run.trackID) }
                    traf.writeFullBox("tfdt", version: 1, flags: 0) { $0.writeInteger(run.baseMediaDecodeTime) }
                    let hasFlags = run.samples.contains { $0.flags != nil }
                    let hasOffsets = run.samples.contains { $0.compositionOffset != 0 }
                    let flags = Self.dataOffsetPresent | Self.durationPresent | Self.sizePresent
                        | (hasFlags ? Self.flagsPresent : 0) | (hasOffsets ? Self.compositionOffsetPresent : 0)
                    traf.writeFullBox("trun", version: 1, flags: flags) { trun in
                        trun.writeInteger(UInt32(run.samples.count))
                        dataOffsetFields.append(trun.writerIndex)
                        trun.writeInteger(Int32(0))
                        for sample in run.samples {
                            trun.writeInteger(sample.duration)
                            trun.writeInteger(sample.size)
                            if hasFlags { trun.writeInteger((sample.flags ?? .sync).rawValue) }
                            if hasOffsets { trun.writeInteger(sample.compositionOffset) }
                        }
                    }
                }
            }
        }
        // Each run's data_offset: from the moof's first byte past the mdat header to the run's bytes.
        var offset = buffer.writerIndex - moofStart + 8
        for (field, run) in zip(dataOffsetFields, runs) {
            buffer.setInteger(Int32(offset), at: field)
            offset += run.data.readableBytes
        }
        buffer.writeInteger(UInt32(8 + runs.reduce(0) { $0 + $1.data.readableBytes }))
        buffer.writeInteger(FourCC("mdat").rawValue)
        for run in runs { buffer.writeImmutableBuffer(run.data) }
    }
}
