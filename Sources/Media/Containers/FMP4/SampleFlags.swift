/// The 32-bit sample flags of movie fragments, ISO/IEC 14496-12 §8.8.3.1.
///
/// ```
/// reserved (4) | is_leading (2) | sample_depends_on (2) | sample_is_depended_on (2)
/// sample_has_redundancy (2) | sample_padding_value (3) | sample_is_non_sync_sample (1)
/// sample_degradation_priority (16)
/// ```
public struct SampleFlags: Sendable, Hashable {
    public var rawValue: UInt32

    public init(rawValue: UInt32) {
        self.rawValue = rawValue
    }

    /// A sync sample (an IDR): depends on no other sample (depends_on = 2).
    public static let sync = SampleFlags(rawValue: 0x0200_0000)
    /// A non-sync sample: depends on others (depends_on = 1), non-sync bit set.
    public static let nonSync = SampleFlags(rawValue: 0x0101_0000)

    /// Whether sample_is_non_sync_sample is clear.
    public var isSync: Bool { rawValue & 0x0001_0000 == 0 }
}
