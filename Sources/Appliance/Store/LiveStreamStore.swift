import Foundation
import GRDB

/// What a new live stream is made from (CLI flags or a Mux create request).
struct NewLiveStream: Sendable {
    var reconnectWindow = LiveStream.defaultReconnectWindow
    var maxContinuousDuration = LiveStream.defaultMaxContinuousDuration
    var latencyMode = LiveStream.LatencyMode.standard
    var passthrough: String?
    var audioOnly = false
    var test = false
    var playbackPolicies: [PlaybackID.Policy] = [.public]
    var newAssetSettings: String?
    var useSlateForStandardLatency = false
    var reconnectSlateURL: String?
    var title: String?
}

/// A PATCH: nil leaves a field as it is; an empty passthrough/slate URL clears it.
struct LiveStreamUpdate: Sendable {
    var passthrough: String?
    var latencyMode: LiveStream.LatencyMode?
    var reconnectWindow: Double?
    var maxContinuousDuration: Int?
    var useSlateForStandardLatency: Bool?
    var reconnectSlateURL: String?
    var title: String?
    var newAssetSettings: String?
}

/// Errors of the store.
enum StoreError: Error, CustomStringConvertible {
    case cannotOpen(path: String, reason: String)
    var description: String {
        switch self {
        case .cannotOpen(let path, let reason): "cannot open database \(path): \(reason)"
        }
    }
}

/// Live streams and their playback IDs in SQLite (GRDB over the system libsqlite3, WAL mode).
/// The server and the `onair streams` CLI open the same file at the same time.
final class LiveStreamStore: Sendable {
    private let database: any DatabaseWriter

    /// Opens (creating if needed) the database at `path` and runs the migrations.
    init(path: String) throws {
        let directory = URL(fileURLWithPath: path).deletingLastPathComponent().path
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            var configuration = Configuration()
            configuration.busyMode = .timeout(5)
            database = try DatabasePool(path: path, configuration: configuration)
            try Self.migrator.migrate(database)
        } catch {
            throw StoreError.cannotOpen(path: path, reason: "\(error)")
        }
    }

    /// An in-memory database for tests.
    init() throws {
        database = try DatabaseQueue()
        try Self.migrator.migrate(database)
    }

    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1: live streams and playback ids") { db in
            try db.create(table: "live_stream") { t in
                t.primaryKey("id", .text)
                t.column("stream_key", .text).notNull().unique()
                t.column("status", .text).notNull().defaults(to: "idle")
                t.column("created_at", .integer).notNull()
                t.column("reconnect_window", .double).notNull()
                t.column("max_continuous_duration", .integer).notNull()
                t.column("latency_mode", .text).notNull()
                t.column("passthrough", .text)
                t.column("audio_only", .boolean).notNull().defaults(to: false)
                t.column("test", .boolean).notNull().defaults(to: false)
                t.column("active_ingest_protocol", .text)
                t.column("sequence", .integer).notNull()
            }
            try db.create(table: "playback_id") { t in
                t.primaryKey("id", .text)
                t.column("live_stream_id", .text).notNull().indexed()
                    .references("live_stream", onDelete: .cascade)
                t.column("policy", .text).notNull()
                t.column("sequence", .integer).notNull()
            }
        }
        migrator.registerMigration("v2: asset settings, slate and meta") { db in
            try db.alter(table: "live_stream") { t in
                t.add(column: "new_asset_settings", .text)
                t.add(column: "use_slate_for_standard_latency", .boolean).notNull().defaults(to: false)
                t.add(column: "reconnect_slate_url", .text)
                t.add(column: "meta_title", .text)
            }
        }
        return migrator
    }

    // MARK: Reads

    /// The stream with `id`, or nil.
    func liveStream(id: String) throws -> LiveStream? {
        try database.read { db in try Self.fetch(db, where: "id = ?", [id]).first }
    }

    /// The stream whose key is `streamKey`, or nil. Compared by SQLite's index, then in constant time.
    func liveStream(streamKey: String) throws -> LiveStream? {
        try database.read { db in try Self.fetch(db, where: "stream_key = ?", [streamKey]).first }
            .flatMap { constantTimeEquals($0.streamKey, streamKey) ? $0 : nil }
    }

    /// Streams newest first; `page` starts at 1.
    func liveStreams(limit: Int = 25, page: Int = 1, status: LiveStream.Status? = nil, streamKey: String? = nil) throws -> [LiveStream] {
        var conditions: [String] = []
        var arguments: [(any DatabaseValueConvertible)?] = []
        if let status { conditions.append("status = ?"); arguments.append(status.rawValue) }
        if let streamKey { conditions.append("stream_key = ?"); arguments.append(streamKey) }
        let filter = conditions.isEmpty ? "1" : conditions.joined(separator: " AND ")
        return try database.read { db in
            try Self.fetch(db, where: filter, StatementArguments(arguments), limit: limit, offset: max(0, page - 1) * limit)
        }
    }

    // MARK: Writes

    /// Creates a stream with fresh id, key and playback IDs.
    func create(_ new: NewLiveStream, now: Date = Date()) throws -> LiveStream {
        let stream = LiveStream(
            id: Identifier.opaque(), streamKey: Identifier.streamKey(), status: .idle,
            createdAt: Int64(now.timeIntervalSince1970), reconnectWindow: new.reconnectWindow,
            maxContinuousDuration: new.maxContinuousDuration, latencyMode: new.latencyMode,
            passthrough: new.passthrough, audioOnly: new.audioOnly, test: new.test,
            playbackIDs: new.playbackPolicies.map { PlaybackID(id: Identifier.opaque(), policy: $0) },
            activeIngestProtocol: nil, newAssetSettings: new.newAssetSettings,
            useSlateForStandardLatency: new.useSlateForStandardLatency, reconnectSlateURL: new.reconnectSlateURL, title: new.title)
        try database.write { db in
            let sequence = try Int.fetchOne(db, sql: "SELECT COALESCE(MAX(sequence), 0) + 1 FROM live_stream") ?? 1
            try db.execute(sql: """
                INSERT INTO live_stream (id, stream_key, status, created_at, reconnect_window, max_continuous_duration,
                                         latency_mode, passthrough, audio_only, test, sequence, new_asset_settings,
                                         use_slate_for_standard_latency, reconnect_slate_url, meta_title)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """, arguments: [stream.id, stream.streamKey, stream.status.rawValue, stream.createdAt, stream.reconnectWindow,
                                 stream.maxContinuousDuration, stream.latencyMode.rawValue, stream.passthrough,
                                 stream.audioOnly, stream.test, sequence, stream.newAssetSettings,
                                 stream.useSlateForStandardLatency, stream.reconnectSlateURL, stream.title])
            for playback in stream.playbackIDs { try Self.insert(playback, liveStreamID: stream.id, db) }
        }
        return stream
    }

    /// Deletes a stream and its playback IDs; false when it did not exist.
    @discardableResult
    func delete(id: String) throws -> Bool {
        try database.write { db in
            try db.execute(sql: "DELETE FROM live_stream WHERE id = ?", arguments: [id])
            return db.changesCount > 0
        }
    }

    /// Gives a stream a new stream key; the old one stops working. Nil when the stream does not exist.
    func resetStreamKey(id: String) throws -> LiveStream? {
        try database.write { db in
            try db.execute(sql: "UPDATE live_stream SET stream_key = ? WHERE id = ?", arguments: [Identifier.streamKey(), id])
            return db.changesCount > 0 ? try Self.fetch(db, where: "id = ?", [id]).first : nil
        }
    }

    /// Records a status change (disabled streams stay disabled).
    func setStatus(id: String, _ status: LiveStream.Status, ingestProtocol: String? = nil) throws {
        try database.write { db in
            try db.execute(sql: """
                UPDATE live_stream SET status = ?, active_ingest_protocol = ? WHERE id = ? AND status != 'disabled'
                """, arguments: [status.rawValue, status == .active ? ingestProtocol : nil, id])
        }
    }

    /// Applies a PATCH; nil when the stream does not exist.
    func update(id: String, _ update: LiveStreamUpdate) throws -> LiveStream? {
        try database.write { db in
            var assignments: [String] = []
            var arguments: [(any DatabaseValueConvertible)?] = []
            func set(_ column: String, _ value: (any DatabaseValueConvertible)?) {
                assignments.append("\(column) = ?")
                arguments.append(value)
            }
            if let value = update.passthrough { set("passthrough", value.isEmpty ? nil : value) }
            if let value = update.latencyMode { set("latency_mode", value.rawValue) }
            if let value = update.reconnectWindow { set("reconnect_window", value) }
            if let value = update.maxContinuousDuration { set("max_continuous_duration", value) }
            if let value = update.useSlateForStandardLatency { set("use_slate_for_standard_latency", value) }
            if let value = update.reconnectSlateURL { set("reconnect_slate_url", value.isEmpty ? nil : value) }
            if let value = update.title { set("meta_title", value) }
            if let value = update.newAssetSettings { set("new_asset_settings", value) }
            if !assignments.isEmpty {
                arguments.append(id)
                try db.execute(sql: "UPDATE live_stream SET \(assignments.joined(separator: ", ")) WHERE id = ?",
                               arguments: StatementArguments(arguments))
            }
            return try Self.fetch(db, where: "id = ?", [id]).first
        }
    }

    /// Disables (refuse publishing) or enables a stream; false when it does not exist.
    func setDisabled(id: String, _ disabled: Bool) throws -> Bool {
        try database.write { db in
            if disabled {
                try db.execute(sql: "UPDATE live_stream SET status = 'disabled', active_ingest_protocol = NULL WHERE id = ?", arguments: [id])
            } else {
                try db.execute(sql: "UPDATE live_stream SET status = 'idle' WHERE id = ? AND status = 'disabled'", arguments: [id])
                if db.changesCount == 0 { return try Int.fetchOne(db, sql: "SELECT 1 FROM live_stream WHERE id = ?", arguments: [id]) != nil }
            }
            return db.changesCount > 0
        }
    }

    /// Adds a playback ID to a stream; nil when the stream does not exist.
    func addPlaybackID(liveStreamID: String, policy: PlaybackID.Policy) throws -> PlaybackID? {
        try database.write { db in
            guard try Int.fetchOne(db, sql: "SELECT 1 FROM live_stream WHERE id = ?", arguments: [liveStreamID]) != nil else { return nil }
            let playback = PlaybackID(id: Identifier.opaque(), policy: policy)
            try Self.insert(playback, liveStreamID: liveStreamID, db)
            return playback
        }
    }

    /// Removes a playback ID of a stream; false when there was none.
    func deletePlaybackID(liveStreamID: String, id: String) throws -> Bool {
        try database.write { db in
            try db.execute(sql: "DELETE FROM playback_id WHERE id = ? AND live_stream_id = ?", arguments: [id, liveStreamID])
            return db.changesCount > 0
        }
    }

    /// The playback ID `id` with the live stream it belongs to.
    func playbackID(_ id: String) throws -> (playbackID: PlaybackID, liveStreamID: String)? {
        try database.read { db in
            try Row.fetchOne(db, sql: "SELECT id, policy, live_stream_id FROM playback_id WHERE id = ?", arguments: [id]).map { row in
                (PlaybackID(id: row["id"], policy: PlaybackID.Policy(rawValue: row["policy"]) ?? .signed), row["live_stream_id"])
            }
        }
    }

    private static func insert(_ playback: PlaybackID, liveStreamID: String, _ db: Database) throws {
        let sequence = try Int.fetchOne(db, sql: "SELECT COALESCE(MAX(sequence), -1) + 1 FROM playback_id WHERE live_stream_id = ?",
                                        arguments: [liveStreamID]) ?? 0
        try db.execute(sql: "INSERT INTO playback_id (id, live_stream_id, policy, sequence) VALUES (?, ?, ?, ?)",
                       arguments: [playback.id, liveStreamID, playback.policy.rawValue, sequence])
    }

    /// At start-up no publisher is connected: every active stream becomes idle.
    func resetActiveStreams() throws {
        try database.write { db in
            try db.execute(sql: "UPDATE live_stream SET status = 'idle', active_ingest_protocol = NULL WHERE status = 'active'")
        }
    }

    // MARK: Mapping

    private static func fetch(_ db: Database, where filter: String, _ arguments: StatementArguments,
                              limit: Int = -1, offset: Int = 0) throws -> [LiveStream] {
        let rows = try Row.fetchAll(db, sql: """
            SELECT * FROM live_stream WHERE \(filter) ORDER BY sequence DESC LIMIT \(limit) OFFSET \(offset)
            """, arguments: arguments)
        return try rows.map { row in
            let id: String = row["id"]
            let playbackIDs = try Row.fetchAll(db, sql: "SELECT id, policy FROM playback_id WHERE live_stream_id = ? ORDER BY sequence",
                                               arguments: [id]).map { playback in
                PlaybackID(id: playback["id"], policy: PlaybackID.Policy(rawValue: playback["policy"]) ?? .signed)
            }
            return LiveStream(
                id: id, streamKey: row["stream_key"],
                status: LiveStream.Status(rawValue: row["status"]) ?? .idle,
                createdAt: row["created_at"], reconnectWindow: row["reconnect_window"],
                maxContinuousDuration: row["max_continuous_duration"],
                latencyMode: LiveStream.LatencyMode(rawValue: row["latency_mode"]) ?? .standard,
                passthrough: row["passthrough"], audioOnly: row["audio_only"], test: row["test"],
                playbackIDs: playbackIDs, activeIngestProtocol: row["active_ingest_protocol"],
                newAssetSettings: row["new_asset_settings"], useSlateForStandardLatency: row["use_slate_for_standard_latency"],
                reconnectSlateURL: row["reconnect_slate_url"], title: row["meta_title"])
        }
    }
}

/// Compares two strings in time that depends only on their lengths, not on where they differ.
func constantTimeEquals(_ a: String, _ b: String) -> Bool {
    let x = Array(a.utf8), y = Array(b.utf8)
    guard x.count == y.count else { return false }
    var difference: UInt8 = 0
    for index in x.indices { difference |= x[index] ^ y[index] }
    return difference == 0
}
