/// Media timestamps inside onair are 64-bit counts of a 90 kHz clock (the MPEG-TS system clock
/// for PTS/DTS), unwrapped: they never wrap. RTMP milliseconds convert exactly (1 ms = 90 ticks).
public enum MediaTime {
    /// Ticks per second.
    public static let timescale: Int64 = 90_000

    /// Converts milliseconds to 90 kHz ticks.
    @inlinable
    public static func ticks(milliseconds: Int64) -> Int64 { milliseconds * 90 }

    /// Converts 90 kHz ticks to milliseconds, rounding to nearest.
    @inlinable
    public static func milliseconds(ticks: Int64) -> Int64 {
        ticks >= 0 ? (ticks + 45) / 90 : -((-ticks + 45) / 90)
    }

    /// Converts 90 kHz ticks to seconds.
    @inlinable
    public static func seconds(ticks: Int64) -> Double { Double(ticks) / Double(timescale) }

    /// Seconds as ticks, rounded; clamped to ±1e12 s (no trap for any input).
    public static func ticks(seconds: Double) -> Int64 {
        guard seconds.isFinite else { return 0 }
        return Int64((min(max(seconds, -1e12), 1e12) * Double(timescale)).rounded())
    }
}
