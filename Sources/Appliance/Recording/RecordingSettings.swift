/// Settings of the recordings (from `recordings.*`).
struct RecordingSettings: Sendable, Equatable {
    /// Where each asset's directory goes (never tmpfs).
    var directory: String
    /// Bytes all recordings together may hold; a recording that would pass it stops (with a warning).
    var maxBytes: Int64
    /// Free bytes the file system keeps; a recording that would take it below stops (with a warning).
    var minFreeBytes: Int64
    /// Segment bytes waiting for the disk, all recordings together; past it the newest recording that
    /// is behind stops, so memory stays bounded and ingest never waits.
    var maxQueuedBytes: Int64 = 256 * 1024 * 1024
}
