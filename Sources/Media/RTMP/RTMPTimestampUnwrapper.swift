/// Extends 32-bit RTMP timestamps (milliseconds, wrapping after 49.7 days) to a rising 64-bit value.
///
/// Each message adds the signed 32-bit difference to the previous one, so a wrap from
/// 0xFFFFFFxx to 0x000000xx keeps rising and a small backwards step stays a small step back.
public struct RTMPTimestampUnwrapper: Sendable {
    private var last: (raw: UInt32, unwrapped: Int64)?

    /// Creates an unwrapper; the first timestamp is taken as is.
    public init() {}

    /// Returns the 64-bit timestamp of `raw`.
    public mutating func unwrap(_ raw: UInt32) -> Int64 {
        let unwrapped: Int64
        if let last {
            unwrapped = last.unwrapped &+ Int64(Int32(bitPattern: raw &- last.raw))
        } else {
            unwrapped = Int64(raw)
        }
        last = (raw, unwrapped)
        return unwrapped
    }
}
