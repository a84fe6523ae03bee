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
        migrator.registerMigration("v4: webhook outbox and appliance facts") { db in
            try db.create(table: "appliance_fact") { t in
                t.primaryKey("key", .text)
                t.column("value", .text).notNull()
            }
            // The environment id webhooks carry: made once per appliance, kept for ever.
            try db.execute(sql: "INSERT INTO appliance_fact (key, value) VALUES ('environment_id', ?)",
                           arguments: [Identifier.environmentID()])
            // Changes already in the feed have been acted on: the hub records its cursor from here on.
            try db.execute(sql: """
                INSERT INTO appliance_fact (key, value) SELECT 'change_cursor', COALESCE(MAX(sequence), 0) FROM live_stream_change
                """)
            try db.create(table: "webhook_event") { t in
                t.autoIncrementedPrimaryKey("sequence")
                t.column("id", .text).notNull().unique()
                t.column("type", .text).notNull()
                t.column("object_type", .text).notNull()
                t.column("object_id", .text).notNull()
                t.column("created_at", .double).notNull()
                t.column("data", .blob).notNull()
            }
            try db.create(table: "webhook_delivery") { t in
                t.column("endpoint", .text).notNull()
                t.column("event_sequence", .integer).notNull().indexed().references("webhook_event", onDelete: .cascade)
                t.column("object_id", .text).notNull()
                t.column("attempt_count", .integer).notNull().defaults(to: 0)
                t.column("attempts", .blob).notNull()
                t.column("next_attempt_at", .double).notNull()
                t.primaryKey(["endpoint", "event_sequence"])
            }
            try db.create(index: "webhook_delivery_head", on: "webhook_delivery", columns: ["endpoint", "object_id", "event_sequence"])
            // The outbox's size, kept by triggers: the bound is checked on every record without a count.
            try db.execute(sql: """
                INSERT INTO appliance_fact (key, value) VALUES ('webhook_deliveries', 0);
                CREATE TRIGGER webhook_delivery_added AFTER INSERT ON webhook_delivery BEGIN
                    UPDATE appliance_fact SET value = value + 1 WHERE key = 'webhook_deliveries'; END;
                CREATE TRIGGER webhook_delivery_removed AFTER DELETE ON webhook_delivery BEGIN
                    UPDATE appliance_fact SET value = value - 1 WHERE key = 'webhook_deliveries'; END;
                """)
        }
        migrator.registerMigration("v5: assets recorded from live streams") { db in
            try db.alter(table: "live_stream") { t in t.add(column: "active_asset_id", .text) }
            // No foreign key to live_stream: deleting a stream keeps its assets, as on Mux.
            try db.create(table: "asset") { t in
                t.primaryKey("id", .text)
                t.column("live_stream_id", .text).notNull().indexed()
                t.column("created_at", .integer).notNull()
                t.column("status", .text).notNull()
                t.column("is_live", .boolean).notNull()
                t.column("duration", .double)
                t.column("passthrough", .text)
                t.column("meta", .text)
                t.column("test", .boolean).notNull().defaults(to: false)
                t.column("mp4_support", .text).notNull()
                t.column("master_access", .boolean).notNull().defaults(to: false)
                t.column("static_renditions", .text).notNull()
                t.column("tracks", .text).notNull()
                t.column("recording_times", .text).notNull()
                t.column("format", .text).notNull()
                t.column("bytes", .integer).notNull().defaults(to: 0)
                t.column("codecs", .text)
                t.column("max_bitrate", .integer)
                t.column("warning", .text)
                t.column("sequence", .integer).notNull()
            }
            try db.create(table: "asset_playback_id") { t in
                t.primaryKey("id", .text)
                t.column("asset_id", .text).notNull().indexed().references("asset", onDelete: .cascade)
                t.column("policy", .text).notNull()
                t.column("sequence", .integer).notNull()
            }
        }
        migrator.registerMigration("v6: signing keys and the playback grant secret") { db in
            // Only the public half of a signing key is kept (PEM, SubjectPublicKeyInfo).
            try db.create(table: "signing_key") { t in
                t.primaryKey("id", .text)
                t.column("created_at", .integer).notNull()
                t.column("public_key", .text).notNull()
                t.column("sequence", .integer).notNull()
            }
            // Secrets the appliance makes for itself on first use (the playback grant key).
            try db.create(table: "appliance_secret") { t in
                t.primaryKey("name", .text)
                t.column("value", .blob).notNull()
            }
        }
        migrator.registerMigration("v7: simulcast targets") { db in
            try db.create(table: "simulcast_target") { t in
                t.primaryKey("id", .text)
                t.column("live_stream_id", .text).notNull().indexed().references("live_stream", onDelete: .cascade)
                t.column("url", .text).notNull()
                t.column("stream_key", .text)
                t.column("passthrough", .text)
                t.column("sequence", .integer).notNull()
            }
        }
        return migrator
    }
}
