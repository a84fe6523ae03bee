import Synchronization

/// Bytes of HLS segments on disk for all streams together, against `hls.max_bytes`.
final class HLSBudget: Sendable {
    /// The total limit.
    let limit: Int64
    private let used = Atomic<Int64>(0)

    init(limit: Int64) { self.limit = limit }

    /// Bytes currently accounted.
    var bytesUsed: Int64 { used.load(ordering: .relaxed) }

    /// Whether `bytes` more would fit.
    func fits(_ bytes: Int64) -> Bool { used.load(ordering: .relaxed) + bytes <= limit }

    /// Accounts `bytes` written (positive) or removed (negative).
    func add(_ bytes: Int64) { used.add(bytes, ordering: .relaxed) }
}
