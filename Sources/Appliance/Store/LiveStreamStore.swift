import Dispatch
import Foundation
import GRDB
import Synchronization

/// Errors of the store.
enum StoreError: Error, CustomStringConvertible {
    case cannotOpen(path: String, reason: String)
    var description: String {
        switch self {
        case .cannotOpen(let path, let reason): "cannot open database \(path): \(reason)"
        }
    }
}

/// Live streams, their playback IDs and the change feed in SQLite (GRDB over the system libsqlite3,
/// WAL mode). The server and the `onair streams` CLI open the same file at the same time.
///
/// Every call is async and runs on GRDB's own dispatch queues (reads on the pool's readers, writes on
/// its writer), never on the Swift-concurrency pool: a 5 s busy wait blocks no cooperative thread.
/// The file is opened (and migrated) on first use, so building an appliance does no I/O.
final class LiveStreamStore: Sendable {
    private let open: @Sendable () throws -> any DatabaseWriter
    private let opened = Mutex<(any DatabaseWriter)?>(nil)
    private let opening = DispatchQueue(label: "onair.store.open")
    /// Change feed entries kept (older ones are pruned as new ones arrive).
    static let changesKept: Int64 = 10_000

    /// The database at `path`, created (with its directory) and migrated when first used.
    init(path: String) {
        open = {
            let directory = URL(fileURLWithPath: path).deletingLastPathComponent().path
            do {
                try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
                return try Self.openMigrated(path: path)
            } catch {
                throw StoreError.cannotOpen(path: path, reason: "\(error)")
            }
        }
    }

    /// The database at `path`, opened and migrated, while another process (the CLI beside the server)
    /// may be doing the same: a new file's switch to WAL can find it locked, and GRDB reads which
    /// migrations are applied outside their transactions, so both may try one. The loser fails
    /// ("database is locked", "duplicate column") and, trying again, finds the work done.
    static func openMigrated(path: String) throws -> DatabasePool {
        var configuration = Configuration()
        configuration.busyMode = .timeout(5)
        for attempt in 1... {
            do {
                let database = try DatabasePool(path: path, configuration: configuration)
                try migrator.migrate(database)
                return database
            } catch where attempt < 20 {
                usleep(50_000)
            }
        }
        fatalError("unreachable")
    }

    /// An in-memory database for tests.
    init() {
        open = {
            let database = try DatabaseQueue()
            try LiveStreamStore.migrator.migrate(database)
            return database
        }
    }

    /// Opens the database now (the hub does at start-up, so a bad path stops the appliance at once).
    func prepare() async throws { _ = try await database() }

    private func database() async throws -> any DatabaseWriter {
        if let database = opened.withLock({ $0 }) { return database }
        return try await withCheckedThrowingContinuation { continuation in
            opening.async { [self] in
                continuation.resume(with: Result {
                    if let database = opened.withLock({ $0 }) { return database }
                    let database = try open()
                    opened.withLock { $0 = database }
                    return database
                })
            }
        }
    }

    /// A read on the pool's readers (for the store's other tables too: ``Outbox``).
    func read<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws -> T {
        try await database().read(body)
    }

    /// A write transaction on the writer.
    func write<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws -> T {
        try await database().write(body)
    }

    // MARK: Reads

    /// The stream with `id`, or nil.
    func liveStream(id: String) async throws -> LiveStream? {
        try await read { db in try Self.fetch(db, where: "id = ?", [id]).first }
    }

    /// The stream whose key is `streamKey`, or nil. Found through SQLite's unique index: keys are 122
    /// random bits, so the lookup's timing tells an attacker nothing worth a comparison of its own.
    func liveStream(streamKey: String) async throws -> LiveStream? {
        try await read { db in try Self.fetch(db, where: "stream_key = ?", [streamKey]).first }
    }

    /// Streams newest first; `page` starts at 1. Two queries whatever the page size.
    func liveStreams(limit: Int = 25, page: Int = 1, status: LiveStream.Status? = nil, streamKey: String? = nil) async throws -> [LiveStream] {
        var conditions: [String] = []
        var arguments: [String] = []
        if let status { conditions.append("status = ?"); arguments.append(status.rawValue) }
        if let streamKey { conditions.append("stream_key = ?"); arguments.append(streamKey) }
        let filter = conditions.isEmpty ? "1" : conditions.joined(separator: " AND ")
        let values = arguments
        let (offset, overflow) = max(0, page - 1).multipliedReportingOverflow(by: limit)
        if overflow { return [] }
        return try await read { db in
            try Self.fetch(db, where: filter, StatementArguments(values), limit: limit, offset: offset)
        }
    }

    /// The playback ID `id` of a live stream, with the stream it belongs to.
    func playbackID(_ id: String) async throws -> (playbackID: PlaybackID, liveStreamID: String)? {
        guard let found = try await playbackTarget(id), case .liveStream(let stream) = found.target else { return nil }
        return (found.playbackID, stream)
    }

    /// The playback ID `id`, of a live stream or of an asset, and what it plays.
    func playbackTarget(_ id: String) async throws -> (playbackID: PlaybackID, target: PlaybackTarget)? {
        try await read { db in
            if let row = try Row.fetchOne(db, sql: "SELECT policy, live_stream_id FROM playback_id WHERE id = ?", arguments: [id]) {
                return (PlaybackID(id: id, policy: PlaybackID.Policy(rawValue: row["policy"]) ?? .signed), .liveStream(row["live_stream_id"]))
            }
            return try Row.fetchOne(db, sql: "SELECT policy, asset_id FROM asset_playback_id WHERE id = ?", arguments: [id]).map { row in
                (PlaybackID(id: id, policy: PlaybackID.Policy(rawValue: row["policy"]) ?? .signed), .asset(row["asset_id"]))
            }
        }
    }

    /// Change feed entries after `sequence`, oldest first.
    func changes(after sequence: Int64, limit: Int = 100) async throws -> [LiveStreamChange] {
        try await read { db in
            try Row.fetchAll(db, sql: "SELECT sequence, kind, snapshot FROM live_stream_change WHERE sequence > ? ORDER BY sequence LIMIT ?",
                             arguments: [sequence, limit]).compactMap { row in
                guard let kind = LiveStreamChange.Kind(rawValue: row["kind"]),
                      let stream = try? JSONDecoder().decode(LiveStream.self, from: row["snapshot"] as Data) else { return nil }
                return LiveStreamChange(sequence: row["sequence"], kind: kind, stream: stream)
            }
        }
    }

    /// The newest change's sequence number (0 when there is none).
    func latestChangeSequence() async throws -> Int64 {
        try await read { db in try Int64.fetchOne(db, sql: "SELECT COALESCE(MAX(sequence), 0) FROM live_stream_change") ?? 0 }
    }

    // MARK: Changes (each one writes its change feed entry in the same transaction)

    /// Creates a stream with fresh id, key and playback IDs.
    func create(_ new: NewLiveStream, now: Date = Date()) async throws -> LiveStreamChange {
        let stream = LiveStream(
            id: Identifier.opaque(), streamKey: Identifier.streamKey(), status: .idle,
            createdAt: Int64(now.timeIntervalSince1970), reconnectWindow: new.reconnectWindow,
            maxContinuousDuration: new.maxContinuousDuration, latencyMode: new.latencyMode,
            passthrough: new.passthrough, audioOnly: new.audioOnly, test: new.test,
            playbackIDs: new.playbackPolicies.map { PlaybackID(id: Identifier.opaque(), policy: $0) },
            activeIngestProtocol: nil, newAssetSettings: new.newAssetSettings,
            useSlateForStandardLatency: new.useSlateForStandardLatency, reconnectSlateURL: new.reconnectSlateURL, title: new.title,
            simulcastTargets: new.simulcastTargets.map { SimulcastTarget(id: Identifier.opaque(), url: $0.url, streamKey: $0.streamKey, passthrough: $0.passthrough) })
        return try await write { db in
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
            for target in stream.simulcastTargets ?? [] { try Self.insert(target, liveStreamID: stream.id, db) }
            return try Self.record(.created, stream, db)
        }
    }

    /// Deletes a stream and its playback IDs; nil when it did not exist.
    func delete(id: String) async throws -> LiveStreamChange? {
        try await write { db in
            guard let stream = try Self.fetch(db, where: "id = ?", [id]).first else { return nil }
            try db.execute(sql: "DELETE FROM live_stream WHERE id = ?", arguments: [id])
            return try Self.record(.deleted, stream, db)
        }
    }

    /// Gives a stream a new stream key; the old one stops working. Nil when the stream does not exist.
    func resetStreamKey(id: String) async throws -> LiveStreamChange? {
        try await write { db in
            try db.execute(sql: "UPDATE live_stream SET stream_key = ? WHERE id = ?", arguments: [Identifier.streamKey(), id])
            guard db.changesCount > 0, let stream = try Self.fetch(db, where: "id = ?", [id]).first else { return nil }
            return try Self.record(.streamKeyReset, stream, db)
        }
    }

    /// Applies a PATCH; nil when the stream does not exist.
    func update(id: String, _ update: LiveStreamUpdate) async throws -> LiveStreamChange? {
        try await write { db in
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
            guard let stream = try Self.fetch(db, where: "id = ?", [id]).first else { return nil }
            return try Self.record(.updated, stream, db)
        }
    }

    /// Disables (refuse publishing) or enables a stream; nil when it does not exist.
    func setDisabled(id: String, _ disabled: Bool) async throws -> LiveStreamChange? {
        try await write { db in
            if disabled {
                try db.execute(sql: "UPDATE live_stream SET status = 'disabled', active_ingest_protocol = NULL WHERE id = ?", arguments: [id])
            } else {
                try db.execute(sql: "UPDATE live_stream SET status = 'idle' WHERE id = ? AND status = 'disabled'", arguments: [id])
            }
            guard let stream = try Self.fetch(db, where: "id = ?", [id]).first else { return nil }
            return try Self.record(disabled ? .disabled : .enabled, stream, db)
        }
    }

    /// Records that the stream's broadcast was signalled complete; nil when it does not exist.
    func complete(id: String) async throws -> LiveStreamChange? {
        try await write { db in
            guard let stream = try Self.fetch(db, where: "id = ?", [id]).first else { return nil }
            return try Self.record(.completed, stream, db)
        }
    }

    /// Adds a playback ID to a stream; nil when the stream does not exist.
    func addPlaybackID(liveStreamID: String, policy: PlaybackID.Policy) async throws -> (PlaybackID, LiveStreamChange)? {
        try await write { db in
            guard try Int.fetchOne(db, sql: "SELECT 1 FROM live_stream WHERE id = ?", arguments: [liveStreamID]) != nil else { return nil }
            let playback = PlaybackID(id: Identifier.opaque(), policy: policy)
            try Self.insert(playback, liveStreamID: liveStreamID, db)
            let stream = try Self.fetch(db, where: "id = ?", [liveStreamID]).first!
            return (playback, try Self.record(.updated, stream, db))
        }
    }

    /// Removes a playback ID of a stream; nil when there was none.
    func deletePlaybackID(liveStreamID: String, id: String) async throws -> LiveStreamChange? {
        try await write { db in
            try db.execute(sql: "DELETE FROM playback_id WHERE id = ? AND live_stream_id = ?", arguments: [id, liveStreamID])
            guard db.changesCount > 0, let stream = try Self.fetch(db, where: "id = ?", [liveStreamID]).first else { return nil }
            return try Self.record(.updated, stream, db)
        }
    }

    // MARK: Broadcast state (written by the hub; it emits the events itself)

    /// Records a status change (disabled streams stay disabled); the stream as it is now, nil if gone.
    func setStatus(id: String, _ status: LiveStream.Status, ingestProtocol: String? = nil, activeAssetID: String? = nil) async throws -> LiveStream? {
        try await write { db in
            try Self.writeStatus(id: id, status.rawValue, ingestProtocol: ingestProtocol, activeAssetID: activeAssetID, db)
            return try Self.fetch(db, where: "id = ?", [id]).first
        }
    }

    /// The status write itself, also for the hub's journal transaction (``Outbox/record``). The
    /// active asset is written whatever the status (a disabled stream's last broadcast keeps its asset).
    static func writeStatus(id: String, _ status: String, ingestProtocol: String?, activeAssetID: String? = nil, _ db: Database) throws {
        try db.execute(sql: """
            UPDATE live_stream SET status = ?, active_ingest_protocol = ? WHERE id = ? AND status != 'disabled'
            """, arguments: [status, status == LiveStream.Status.active.rawValue ? ingestProtocol : nil, id])
        if let activeAssetID {
            try db.execute(sql: "UPDATE live_stream SET active_asset_id = ? WHERE id = ?", arguments: [activeAssetID, id])
        }
    }

    // MARK: Mapping

    private static func record(_ kind: LiveStreamChange.Kind, _ stream: LiveStream, _ db: Database) throws -> LiveStreamChange {
        let snapshot = try JSONEncoder().encode(stream)
        try db.execute(sql: "INSERT INTO live_stream_change (live_stream_id, kind, snapshot) VALUES (?, ?, ?)",
                       arguments: [stream.id, kind.rawValue, snapshot])
        let sequence = db.lastInsertedRowID
        if sequence > changesKept {
            try db.execute(sql: "DELETE FROM live_stream_change WHERE sequence <= ?", arguments: [sequence - changesKept])
        }
        return LiveStreamChange(sequence: sequence, kind: kind, stream: stream)
    }

    static func insert(_ target: SimulcastTarget, liveStreamID: String, _ db: Database) throws {
        let sequence = try Int.fetchOne(db, sql: "SELECT COALESCE(MAX(sequence), -1) + 1 FROM simulcast_target WHERE live_stream_id = ?",
                                        arguments: [liveStreamID]) ?? 0
        try db.execute(sql: "INSERT INTO simulcast_target (id, live_stream_id, url, stream_key, passthrough, sequence) VALUES (?, ?, ?, ?, ?, ?)",
                       arguments: [target.id, liveStreamID, target.url, target.streamKey, target.passthrough, sequence])
    }

    private static func insert(_ playback: PlaybackID, liveStreamID: String, _ db: Database) throws {
        let sequence = try Int.fetchOne(db, sql: "SELECT COALESCE(MAX(sequence), -1) + 1 FROM playback_id WHERE live_stream_id = ?",
                                        arguments: [liveStreamID]) ?? 0
        try db.execute(sql: "INSERT INTO playback_id (id, live_stream_id, policy, sequence) VALUES (?, ?, ?, ?)",
                       arguments: [playback.id, liveStreamID, playback.policy.rawValue, sequence])
    }

    /// Streams and their playback IDs in two queries.
    static func fetch(_ db: Database, where filter: String, _ arguments: StatementArguments,
                              limit: Int = -1, offset: Int = 0) throws -> [LiveStream] {
        let rows = try Row.fetchAll(db, sql: """
            SELECT * FROM live_stream WHERE \(filter) ORDER BY sequence DESC LIMIT \(limit) OFFSET \(offset)
            """, arguments: arguments)
        guard !rows.isEmpty else { return [] }
        let ids: [String] = rows.map { $0["id"] }
        var playbackIDs: [String: [PlaybackID]] = [:]
        let placeholders = Array(repeating: "?", count: ids.count).joined(separator: ",")
        for row in try Row.fetchAll(db, sql: """
            SELECT id, policy, live_stream_id FROM playback_id WHERE live_stream_id IN (\(placeholders)) ORDER BY sequence
            """, arguments: StatementArguments(ids)) {
            playbackIDs[row["live_stream_id"], default: []].append(
                PlaybackID(id: row["id"], policy: PlaybackID.Policy(rawValue: row["policy"]) ?? .signed))
        }
        var targets: [String: [SimulcastTarget]] = [:]
        for row in try Row.fetchAll(db, sql: """
            SELECT id, live_stream_id, url, stream_key, passthrough FROM simulcast_target WHERE live_stream_id IN (\(placeholders)) ORDER BY sequence
            """, arguments: StatementArguments(ids)) {
            targets[row["live_stream_id"], default: []].append(
                SimulcastTarget(id: row["id"], url: row["url"], streamKey: row["stream_key"], passthrough: row["passthrough"]))
        }
        var assets: [String: [String]] = [:]
        for row in try Row.fetchAll(db, sql: """
            SELECT id, live_stream_id FROM (
                SELECT id, live_stream_id, sequence, ROW_NUMBER() OVER (PARTITION BY live_stream_id ORDER BY sequence DESC) AS n
                FROM asset WHERE live_stream_id IN (\(placeholders))) WHERE n <= \(LiveStream.recentAssetLimit) ORDER BY sequence
            """, arguments: StatementArguments(ids)) {
            assets[row["live_stream_id"], default: []].append(row["id"])
        }
        return rows.map { row in
            let id: String = row["id"]
            return LiveStream(
                id: id, streamKey: row["stream_key"],
                status: LiveStream.Status(rawValue: row["status"]) ?? .idle,
                createdAt: row["created_at"], reconnectWindow: row["reconnect_window"],
                maxContinuousDuration: row["max_continuous_duration"],
                latencyMode: LiveStream.LatencyMode(rawValue: row["latency_mode"]) ?? .standard,
                passthrough: row["passthrough"], audioOnly: row["audio_only"], test: row["test"],
                playbackIDs: playbackIDs[id] ?? [], activeIngestProtocol: row["active_ingest_protocol"],
                newAssetSettings: row["new_asset_settings"], useSlateForStandardLatency: row["use_slate_for_standard_latency"],
                reconnectSlateURL: row["reconnect_slate_url"], title: row["meta_title"],
                activeAssetID: row["active_asset_id"], recentAssetIDs: assets[id], simulcastTargets: targets[id] ?? [])
        }
    }
}
