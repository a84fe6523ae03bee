import Foundation
import GRDB

/// Assets and their playback IDs, in the store's database (tables `asset`, `asset_playback_id`).
/// Nested values (tracks, recording times, static renditions, meta) are JSON columns: they are read
/// and written whole with their asset, never queried.
final class AssetStore: Sendable {
    private let store: LiveStreamStore

    init(store: LiveStreamStore) { self.store = store }

    // MARK: Reads

    func asset(id: String) async throws -> Asset? {
        try await store.read { db in try Self.fetch(db, where: "id = ?", [id]).first }
    }

    /// Assets newest first; `page` starts at 1.
    func assets(limit: Int = 25, page: Int = 1, liveStreamID: String? = nil) async throws -> [Asset] {
        let (offset, overflow) = max(0, page - 1).multipliedReportingOverflow(by: limit)
        if overflow { return [] }
        return try await store.read { db in
            if let liveStreamID {
                return try Self.fetch(db, where: "live_stream_id = ?", [liveStreamID], limit: limit, offset: offset)
            }
            return try Self.fetch(db, where: "1", [], limit: limit, offset: offset)
        }
    }

    /// Assets whose broadcast was going on when they were last written (left live by a crash, or
    /// recording now).
    func liveAssets() async throws -> [Asset] {
        try await store.read { db in try Self.fetch(db, where: "is_live = 1", []) }
    }

    /// Bytes the assets hold on disk as stored, but for those of `excluding` (being recorded: their
    /// stored count lags behind).
    func totalBytes(excluding: [String] = []) async throws -> Int64 {
        try await store.read { db in
            try Int64.fetchOne(db, sql: "SELECT COALESCE(SUM(bytes), 0) FROM asset WHERE id NOT IN (\(excluding.map { _ in "?" }.joined(separator: ",")))",
                               arguments: StatementArguments(excluding)) ?? 0
        }
    }

    // MARK: Changes

    /// Stores a new asset with its playback IDs.
    func create(_ asset: Asset) async throws {
        try await store.write { db in
            let sequence = try Int.fetchOne(db, sql: "SELECT COALESCE(MAX(sequence), 0) + 1 FROM asset") ?? 1
            try db.execute(sql: """
                INSERT INTO asset (id, live_stream_id, created_at, status, is_live, duration, passthrough, meta, test, mp4_support,
                                   master_access, static_renditions, tracks, recording_times, format, bytes, codecs, max_bitrate,
                                   warning, sequence)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """, arguments: try Self.columns(asset) + [sequence])
            for playback in asset.playbackIDs { try Self.insert(playback, assetID: asset.id, db) }
        }
    }

    /// Changes an asset in one transaction: `change` sees it as stored. Nil when there is none.
    @discardableResult
    func update(id: String, _ change: @escaping @Sendable (inout Asset) -> Void) async throws -> Asset? {
        try await store.write { db in
            guard var asset = try Self.fetch(db, where: "id = ?", [id]).first else { return nil }
            change(&asset)
            try db.execute(sql: """
                UPDATE asset SET id = ?, live_stream_id = ?, created_at = ?, status = ?, is_live = ?, duration = ?, passthrough = ?, meta = ?,
                                 test = ?, mp4_support = ?, master_access = ?, static_renditions = ?, tracks = ?, recording_times = ?,
                                 format = ?, bytes = ?, codecs = ?, max_bitrate = ?, warning = ?
                WHERE id = ?
                """, arguments: try Self.columns(asset) + [id])
            return asset
        }
    }

    /// Deletes an asset and its playback IDs; the asset as it was, nil when there was none.
    func delete(id: String) async throws -> Asset? {
        try await store.write { db in
            guard let asset = try Self.fetch(db, where: "id = ?", [id]).first else { return nil }
            try db.execute(sql: "DELETE FROM asset WHERE id = ?", arguments: [id])
            try db.execute(sql: "UPDATE live_stream SET active_asset_id = NULL WHERE active_asset_id = ?", arguments: [id])
            return asset
        }
    }

    /// Adds a playback ID; nil when the asset does not exist.
    func addPlaybackID(assetID: String, policy: PlaybackID.Policy) async throws -> PlaybackID? {
        try await store.write { db in
            guard try Int.fetchOne(db, sql: "SELECT 1 FROM asset WHERE id = ?", arguments: [assetID]) != nil else { return nil }
            let playback = PlaybackID(id: Identifier.opaque(), policy: policy)
            try Self.insert(playback, assetID: assetID, db)
            return playback
        }
    }

    /// Removes a playback ID of an asset; false when there was none.
    func deletePlaybackID(assetID: String, id: String) async throws -> Bool {
        try await store.write { db in
            try db.execute(sql: "DELETE FROM asset_playback_id WHERE id = ? AND asset_id = ?", arguments: [id, assetID])
            return db.changesCount > 0
        }
    }

    // MARK: Mapping

    private static func insert(_ playback: PlaybackID, assetID: String, _ db: Database) throws {
        let sequence = try Int.fetchOne(db, sql: "SELECT COALESCE(MAX(sequence), -1) + 1 FROM asset_playback_id WHERE asset_id = ?",
                                        arguments: [assetID]) ?? 0
        try db.execute(sql: "INSERT INTO asset_playback_id (id, asset_id, policy, sequence) VALUES (?, ?, ?, ?)",
                       arguments: [playback.id, assetID, playback.policy.rawValue, sequence])
    }

    /// The columns of `asset` in the order of the INSERT and UPDATE above.
    private static func columns(_ asset: Asset) throws -> StatementArguments {
        let encoder = JSONEncoder()
        func json<T: Encodable>(_ value: T) throws -> String { String(decoding: try encoder.encode(value), as: UTF8.self) }
        return [asset.id, asset.liveStreamID, asset.createdAt, asset.status.rawValue, asset.isLive, asset.duration, asset.passthrough,
                asset.meta.isEmpty ? nil : try json(asset.meta), asset.test, asset.mp4Support.rawValue, asset.masterAccess,
                try json(asset.staticRenditions), try json(asset.tracks), try json(asset.recordingTimes), asset.format, asset.bytes,
                asset.codecs, asset.maxBitrate, asset.warning]
    }

    /// Assets and their playback IDs in two queries, newest first.
    private static func fetch(_ db: Database, where filter: String, _ arguments: StatementArguments,
                              limit: Int = -1, offset: Int = 0) throws -> [Asset] {
        let rows = try Row.fetchAll(db, sql: "SELECT * FROM asset WHERE \(filter) ORDER BY sequence DESC LIMIT \(limit) OFFSET \(offset)",
                                    arguments: arguments)
        guard !rows.isEmpty else { return [] }
        let ids: [String] = rows.map { $0["id"] }
        var playbackIDs: [String: [PlaybackID]] = [:]
        for row in try Row.fetchAll(db, sql: """
            SELECT id, policy, asset_id FROM asset_playback_id WHERE asset_id IN (\(ids.map { _ in "?" }.joined(separator: ","))) ORDER BY sequence
            """, arguments: StatementArguments(ids)) {
            playbackIDs[row["asset_id"], default: []].append(PlaybackID(id: row["id"], policy: PlaybackID.Policy(rawValue: row["policy"]) ?? .signed))
        }
        let decoder = JSONDecoder()
        func json<T: Decodable>(_ type: T.Type, _ text: String?) -> T? { text.flatMap { try? decoder.decode(type, from: Data($0.utf8)) } }
        return rows.map { row in
            let id: String = row["id"]
            return Asset(
                id: id, liveStreamID: row["live_stream_id"], createdAt: row["created_at"],
                status: Asset.Status(rawValue: row["status"]) ?? .errored, isLive: row["is_live"], duration: row["duration"],
                playbackIDs: playbackIDs[id] ?? [], passthrough: row["passthrough"], meta: json(Asset.Meta.self, row["meta"]) ?? Asset.Meta(),
                test: row["test"], mp4Support: Asset.MP4Support(rawValue: row["mp4_support"]) ?? .none, masterAccess: row["master_access"],
                staticRenditions: json([Asset.StaticRendition].self, row["static_renditions"]) ?? [],
                tracks: json([Asset.Track].self, row["tracks"]) ?? [],
                recordingTimes: json([Asset.RecordingTime].self, row["recording_times"]) ?? [],
                format: row["format"], bytes: row["bytes"], codecs: row["codecs"], maxBitrate: row["max_bitrate"],
                warning: row["warning"])
        }
    }
}
