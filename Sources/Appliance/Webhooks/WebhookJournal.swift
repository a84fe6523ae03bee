import Foundation
import Logging
import Synchronization

/// The hub's ``EventJournal``: each lifecycle event becomes an outbox event (a fresh UUID, kept
/// across every retry) with a delivery for each endpoint whose filter takes its type, in the same
/// transaction as the hub's cursor; then the endpoints' workers are woken. Past the outbox's bound
/// the oldest deliveries are dropped, logged and counted.
final class WebhookJournal: EventJournal {
    /// What an event says about its object: Mux's `object.type`, its id and the JSON of `data`.
    struct Payload: Sendable {
        var objectType: String
        var objectID: String
        var data: Data
    }

    private let outbox: Outbox
    private let dispatcher: WebhookDispatcher
    private let logger: Logger
    private let payload: @Sendable (LifecycleEvent) -> Payload
    /// The cursor in the database, once known: a record with nothing to keep and the same cursor writes nothing.
    private let stored = Mutex<Int64?>(nil)

    init(outbox: Outbox, dispatcher: WebhookDispatcher, logger: Logger, payload: @escaping @Sendable (LifecycleEvent) -> Payload) {
        self.outbox = outbox
        self.dispatcher = dispatcher
        self.logger = logger
        self.payload = payload
    }

    func recordedCursor() async throws -> Int64? {
        let cursor = try await outbox.changeCursor()
        stored.withLock { $0 = cursor }
        return cursor
    }

    /// Records one event about another object than a live stream (an asset's, from the recordings),
    /// for the endpoints whose filter takes its type; none: nothing is written.
    func record(type: String, _ payload: Payload, at date: Date) async throws {
        let (endpointsFor, generation) = dispatcher.routing()
        let endpoints = endpointsFor(type)
        guard !endpoints.isEmpty else { return }
        let event = Outbox.Event(id: UUID().uuidString.lowercased(), type: type, objectType: payload.objectType,
                                 objectID: payload.objectID, createdAt: date.timeIntervalSince1970, data: payload.data)
        let limit = dispatcher.settings.maxQueued
        let dropped = try await outbox.record([(event, endpoints)], cursor: nil, limit: limit)
        if dispatcher.routing().generation != generation { dispatcher.reconcile() }
        WebhookEndpoint.report(dropped, reason: "outbox_full", "webhook outbox full: oldest events dropped", logger: logger,
                               metadata: ["max_queued": "\(limit)"])
        dispatcher.wake()
    }

    func record(_ events: [LifecycleEvent], statuses: [StatusChange], cursor: Int64) async throws {
        // Events no endpoint takes are not kept; the statuses and the cursor are recorded all the same.
        let (endpointsFor, generation) = dispatcher.routing()
        let items = events.compactMap { event -> (event: Outbox.Event, endpoints: [String])? in
            let endpoints = endpointsFor(event.type.rawValue)
            guard !endpoints.isEmpty else { return nil }
            let payload = payload(event)
            return (Outbox.Event(id: UUID().uuidString.lowercased(), type: event.type.rawValue, objectType: payload.objectType,
                                 objectID: payload.objectID, createdAt: event.at.timeIntervalSince1970, data: payload.data), endpoints)
        }
        // Without endpoints for these events (an appliance with no webhooks), only what changed is written.
        if items.isEmpty && statuses.isEmpty && stored.withLock({ $0 }) == cursor { return }
        let limit = dispatcher.settings.maxQueued
        let dropped = try await outbox.record(items, statuses: statuses.map { ($0.liveStreamID, $0.status.rawValue, $0.ingestProtocol, $0.activeAssetID) },
                                              cursor: cursor, limit: limit)
        stored.withLock { $0 = cursor }
        // A reload between choosing the endpoints and the write: drop what went to a removed one.
        if !items.isEmpty && dispatcher.routing().generation != generation { dispatcher.reconcile() }
        WebhookEndpoint.report(dropped, reason: "outbox_full", "webhook outbox full: oldest events dropped", logger: logger,
                               metadata: ["max_queued": "\(limit)"])
        if !items.isEmpty { dispatcher.wake() }
    }
}
