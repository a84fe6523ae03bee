import Foundation
import GRDB

/// Signing keys (table `signing_key`, public halves only) and the appliance's own secrets (table
/// `appliance_secret`), in the store's database.
final class SigningKeyStore: Sendable {
    private let store: LiveStreamStore

    init(store: LiveStreamStore) { self.store = store }

    func create(_ key: SigningKey) async throws {
        try await store.write { db in
            let sequence = try Int.fetchOne(db, sql: "SELECT COALESCE(MAX(sequence), 0) + 1 FROM signing_key") ?? 1
            try db.execute(sql: "INSERT INTO signing_key (id, created_at, public_key, sequence) VALUES (?, ?, ?, ?)",
                           arguments: [key.id, key.createdAt, key.publicKeyPEM, sequence])
        }
    }

    func key(id: String) async throws -> SigningKey? {
        try await store.read { db in try Self.fetch(db, where: "id = ?", [id]).first }
    }

    /// Keys newest first; `page` starts at 1.
    func keys(limit: Int, page: Int) async throws -> [SigningKey] {
        let (offset, overflow) = max(0, page - 1).multipliedReportingOverflow(by: limit)
        if overflow { return [] }
        return try await store.read { db in try Self.fetch(db, where: "1", [], limit: limit, offset: offset) }
    }

    func all() async throws -> [SigningKey] {
        try await store.read { db in try Self.fetch(db, where: "1", []) }
    }

    /// Whether a key was deleted.
    func delete(id: String) async throws -> Bool {
        try await store.write { db in
            try db.execute(sql: "DELETE FROM signing_key WHERE id = ?", arguments: [id])
            return db.changesCount > 0
        }
    }

    /// The secret of that name, made (by `make`) and stored the first time it is asked for.
    func secret(named name: String, make: @escaping @Sendable () -> Data) async throws -> Data {
        try await store.write { db in
            try db.execute(sql: "INSERT OR IGNORE INTO appliance_secret (name, value) VALUES (?, ?)", arguments: [name, make()])
            return try Data.fetchOne(db, sql: "SELECT value FROM appliance_secret WHERE name = ?", arguments: [name]) ?? Data()
        }
    }

    private static func fetch(_ db: Database, where filter: String, _ arguments: StatementArguments,
                              limit: Int = -1, offset: Int = 0) throws -> [SigningKey] {
        try Row.fetchAll(db, sql: "SELECT id, created_at, public_key FROM signing_key WHERE \(filter) ORDER BY sequence DESC LIMIT ? OFFSET ?",
                         arguments: arguments + [limit, offset])
            .map { SigningKey(id: $0["id"], createdAt: $0["created_at"], publicKeyPEM: $0["public_key"]) }
    }
}
