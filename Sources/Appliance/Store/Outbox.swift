import Foundation
import GRDB

/// The webhooks' durable outbox, in the store's database: every event an endpoint is to receive is a
/// row in `webhook_event`, and every (endpoint, event) still to deliver a row in `webhook_delivery`,
/// written in one transaction with the hub's change feed cursor. A delivery row goes when its
/// endpoint answered 2xx, its 24 h ran out, the outbox overflowed, or its endpoint left the
/// configuration; an event goes with its last delivery. Nothing here is held only in memory, so a
/// kill -9 at any point loses nothing that was recorded.
final class Outbox: Sendable {
    /// An event as recorded: its JSON `data` is opaque here.
    struct Event: Sendable, Equatable {
        var id: String
        var type: String
        var objectType: String
        var objectID: String
        /// Unix seconds with microseconds.
        var createdAt: Double
        var data: Data
    }

    /// One event still to deliver to one endpoint: the head of its object's queue.
    struct Delivery: Sendable, Equatable {
        var sequence: Int64
        var event: Event
        var attemptCount: Int
        /// The earlier attempts, a JSON array (their shape belongs to the webhooks).
        var attempts: Data
    }

    /// A delivery given up without an answer (the outbox overflowed, or its endpoint was removed).
    struct Dropped: Sendable, Equatable {
        var endpoint: String
        var eventID: String
        var type: String
        var objectID: String
    }

    private let store: LiveStreamStore

    init(store: LiveStreamStore) { self.store = store }

    // MARK: Facts

    /// This appliance's environment id, made once by the migration.
    func environmentID() async throws -> String {
        try await store.read { db in try String.fetchOne(db, sql: "SELECT value FROM appliance_fact WHERE key = 'environment_id'") ?? "" }
    }

    /// The change feed cursor last recorded with events (nil on a database that never had one).
    func changeCursor() async throws -> Int64? {
        try await store.read { db in
            try String.fetchOne(db, sql: "SELECT value FROM appliance_fact WHERE key = 'change_cursor'").flatMap { Int64($0) }
        }
    }

    // MARK: Recording

    /// Records `events`, each for the endpoints it names, the hub's status writes (a disabled stream
    /// stays disabled) and `cursor` (the hub's; nil for events of others, e.g. recordings), in one transaction. Past `limit` queued deliveries the oldest are
    /// dropped, and returned.
    func record(_ events: [(event: Event, endpoints: [String])],
                statuses: [(id: String, status: String, ingestProtocol: String?, activeAssetID: String?)] = [],
                cursor: Int64?, limit: Int) async throws -> [Dropped] {
        try await store.write { db in
            for (id, status, ingestProtocol, activeAssetID) in statuses {
                try LiveStreamStore.writeStatus(id: id, status, ingestProtocol: ingestProtocol, activeAssetID: activeAssetID, db)
            }
            for (event, endpoints) in events where !endpoints.isEmpty {
                try db.cachedStatement(sql: """
                    INSERT OR IGNORE INTO webhook_event (id, type, object_type, object_id, created_at, data) VALUES (?, ?, ?, ?, ?, ?)
                    """).execute(arguments: [event.id, event.type, event.objectType, event.objectID, event.createdAt, event.data])
                guard db.changesCount > 0 else { continue }
                let sequence = db.lastInsertedRowID
                for endpoint in endpoints {
                    try db.cachedStatement(sql: """
                        INSERT INTO webhook_delivery (endpoint, event_sequence, object_id, attempts, next_attempt_at) VALUES (?, ?, ?, ?, ?)
                        """).execute(arguments: [endpoint, sequence, event.objectID, Data("[]".utf8), event.createdAt])
                }
            }
            if let cursor {
                try db.cachedStatement(sql: "INSERT OR REPLACE INTO appliance_fact (key, value) VALUES ('change_cursor', ?)").execute(arguments: [String(cursor)])
            }
            let queued = try Int.fetchOne(db.cachedStatement(sql: "SELECT CAST(value AS INTEGER) FROM appliance_fact WHERE key = 'webhook_deliveries'")) ?? 0
            guard queued > limit else { return [] }
            return try Self.drop("ORDER BY d.event_sequence LIMIT ?", [queued - limit], db)
        }
    }

    // MARK: Delivering

    /// The endpoint's deliveries that may go now: the oldest of each object's queue (events for one
    /// live stream go in order), due by `now`, none of `busy`'s objects, oldest first. A due time past
    /// `latest` counts as due (the wall clock went back). `next` is when the next head that is not due
    /// yet will be.
    func due(endpoint: String, now: Double, latest: Double, limit: Int, busy: Set<String>) async throws -> (due: [Delivery], next: Double?) {
        try await store.read { db in
            // Each object's head through the (endpoint, object_id, event_sequence) index, then its row.
            let heads = """
                FROM (SELECT MIN(event_sequence) AS head FROM webhook_delivery WHERE endpoint = ?1 GROUP BY object_id) h
                JOIN webhook_delivery d ON d.endpoint = ?1 AND d.event_sequence = h.head
                """
            let rows = try Row.fetchAll(db.cachedStatement(sql: """
                SELECT d.event_sequence, d.attempt_count, d.attempts, e.id, e.type, e.object_type, e.object_id, e.created_at, e.data
                \(heads) JOIN webhook_event e ON e.sequence = d.event_sequence
                WHERE d.next_attempt_at <= ?2 OR d.next_attempt_at > ?3 ORDER BY d.event_sequence LIMIT ?4
                """), arguments: [endpoint, now, latest, limit + busy.count])
            let due = rows.lazy.filter { !busy.contains($0["object_id"]) }.prefix(limit).map { row in
                Delivery(sequence: row["event_sequence"],
                         event: Event(id: row["id"], type: row["type"], objectType: row["object_type"], objectID: row["object_id"],
                                      createdAt: row["created_at"], data: row["data"]),
                         attemptCount: row["attempt_count"], attempts: row["attempts"])
            }
            let next = try Double.fetchOne(db.cachedStatement(sql: "SELECT MIN(d.next_attempt_at) \(heads) WHERE d.next_attempt_at > ?2 AND d.next_attempt_at <= ?3"),
                                           arguments: [endpoint, now, latest])
            return (Array(due), next)
        }
    }

    /// The endpoint answered 2xx (or the delivery was given up): it is done.
    func finished(endpoint: String, sequence: Int64) async throws {
        try await store.write { db in try Self.remove(endpoint: endpoint, sequence: sequence, db) }
    }

    /// An attempt failed: `attempts` is the list with it, the next one is due at `next`.
    func failed(endpoint: String, sequence: Int64, attempts: Data, next: Double) async throws {
        try await store.write { db in
            try db.cachedStatement(sql: """
                UPDATE webhook_delivery SET attempt_count = attempt_count + 1, attempts = ?, next_attempt_at = ?
                WHERE endpoint = ? AND event_sequence = ?
                """).execute(arguments: [attempts, next, endpoint, sequence])
        }
    }

    /// Keeps the deliveries of `endpoints` only (the configuration changed); the others are returned.
    func retain(endpoints: Set<String>) async throws -> [Dropped] {
        let kept = Array(endpoints)
        return try await store.write { db in
            try Self.drop("WHERE d.endpoint NOT IN (\(kept.map { _ in "?" }.joined(separator: ",")))", StatementArguments(kept), db)
        }
    }

    /// Deliveries waiting for `endpoint`.
    func queued(endpoint: String) async throws -> Int {
        try await store.read { db in
            try Int.fetchOne(db.cachedStatement(sql: "SELECT COUNT(*) FROM webhook_delivery WHERE endpoint = ?"), arguments: [endpoint]) ?? 0
        }
    }

    /// Deliveries waiting, all endpoints.
    func queued() async throws -> Int {
        try await store.read { db in
            try Int.fetchOne(db.cachedStatement(sql: "SELECT CAST(value AS INTEGER) FROM appliance_fact WHERE key = 'webhook_deliveries'")) ?? 0
        }
    }

    /// Removes the deliveries `clause` selects (`d` is webhook_delivery) and says which they were.
    private static func drop(_ clause: String, _ arguments: StatementArguments, _ db: Database) throws -> [Dropped] {
        let rows = try Row.fetchAll(db, sql: """
            SELECT d.endpoint, d.event_sequence, e.id, e.type, e.object_id FROM webhook_delivery d
            JOIN webhook_event e ON e.sequence = d.event_sequence \(clause)
            """, arguments: arguments)
        for row in rows { try remove(endpoint: row["endpoint"], sequence: row["event_sequence"], db) }
        return rows.map { Dropped(endpoint: $0["endpoint"], eventID: $0["id"], type: $0["type"], objectID: $0["object_id"]) }
    }

    private static func remove(endpoint: String, sequence: Int64, _ db: Database) throws {
        try db.cachedStatement(sql: "DELETE FROM webhook_delivery WHERE endpoint = ? AND event_sequence = ?").execute(arguments: [endpoint, sequence])
        try db.cachedStatement(sql: """
            DELETE FROM webhook_event WHERE sequence = ?1 AND NOT EXISTS (SELECT 1 FROM webhook_delivery WHERE event_sequence = ?1)
            """).execute(arguments: [sequence])
    }
}
