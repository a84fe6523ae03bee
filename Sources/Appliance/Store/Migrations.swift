import GRDB

extension LiveStreamStore {
    /// The schema, one migration per change; never edit a migration that has shipped.
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
        migrator.registerMigration("v3: change feed") { db in
            try db.create(table: "live_stream_change") { t in
                t.autoIncrementedPrimaryKey("sequence")
                t.column("live_stream_id", .text).notNull()
                t.column("kind", .text).notNull()
                t.column("snapshot", .blob).notNull()
            }
        }
        return migrator
    }
}
