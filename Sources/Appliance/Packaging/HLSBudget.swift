import Synchronization

/// Bytes of HLS segments on disk for all streams together, against `hls.max_bytes`.
final class HLSBudget: Sendable {
    private let used = Atomic<Int64>(0)
    private let currentLimit: Atomic<Int64>

    init(limit: Int64) { currentLimit = Atomic(limit) }

    /// The total limit (a reload may change it).
    var limit: Int64 {
        get { currentLimit.load(ordering: .relaxed) }
        set { currentLimit.store(newValue, ordering: .relaxed) }
    }

    /// Bytes currently accounted.
    var bytesUsed: Int64 { used.load(ordering: .relaxed) }

    /// Whether `bytes` more would fit.
    func fits(_ bytes: Int64) -> Bool { used.load(ordering: .relaxed) + bytes <= currentLimit.load(ordering: .relaxed) }

    /// Accounts `bytes` written (positive) or removed (negative).
    func add(_ bytes: Int64) { used.add(bytes, ordering: .relaxed) }
}
