/// Where the hub writes its lifecycle events before anyone else hears of them: the webhooks'
/// durable outbox (Webhooks conforms, in App). Each record is one transaction with the change feed
/// cursor the events bring the hub to, so after a kill -9 the hub carries out again exactly the
/// changes whose events were not recorded, and no recorded event is made twice.
protocol EventJournal: Sendable {
    /// The cursor recorded last; nil when none ever was (the hub then starts at the newest change).
    func recordedCursor() async throws -> Int64?
    /// Records `events` (oldest first) and `cursor` together.
    func record(_ events: [LifecycleEvent], cursor: Int64) async throws
}
