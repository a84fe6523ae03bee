import Media

/// Frame rate measured from video decode timestamps, for streams whose SPS has no timing info.
struct FrameRateMeter: Sendable {
    private var first: Int64?
    private var last: Int64 = 0
    private var frames = 0

    mutating func add(dts: Int64) {
        if first == nil || dts < last { first = dts; frames = 0 }
        frames += 1
        last = dts
    }

    /// Frames per second, once two frames were seen.
    var rate: Double? {
        guard let first, frames > 1, last > first else { return nil }
        return Double(frames - 1) / MediaTime.seconds(ticks: last - first)
    }
}
