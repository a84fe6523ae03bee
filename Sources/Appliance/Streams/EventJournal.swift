/// Where the hub makes its work durable before anyone else hears of it: the webhooks' outbox
/// (Webhooks conforms, in App). Each record is one transaction holding the events of one input, the
/// status writes that go with them and the change feed cursor they bring the hub to. So a kill -9
/// never leaves a status in the database without its event (a stream idle with no `idle` sent), the
/// hub carries out again exactly the changes whose events were not recorded, and no recorded event is
/// made twice.
protocol EventJournal: Sendable {
    /// The cursor recorded last; nil when none ever was (the hub then starts at the newest change).
    func recordedCursor() async throws -> Int64?
    /// Records `events` (oldest first), applies `statuses` and stores `cursor`, together.
    func record(_ events: [LifecycleEvent], statuses: [StatusChange], cursor: Int64) async throws
}

/// A broadcast's status as the hub writes it (disabled streams stay disabled).
struct StatusChange: Sendable, Equatable {
    var liveStreamID: String
    var status: LiveStream.Status
    /// "rtmp" while active.
    var ingestProtocol: String?
    /// The asset recording the broadcast, once it has one (never cleared here).
    var activeAssetID: String?
}
