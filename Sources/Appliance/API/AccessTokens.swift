import Crypto
import Foundation
import Synchronization

/// The API credentials, replaceable at run time (SIGHUP reload).
///
/// Secrets are held only as SHA-256 digests (swift-crypto); a presented secret is hashed and
/// compared in constant time, so neither the comparison nor memory reveals a secret.
final class AccessTokens: Sendable {
    enum Permission: Sendable, Hashable {
        /// `video:read`, `video:write`: live streams and assets.
        case read, write
        /// `system:read`, `system:write`: signing keys (`/system/v1/signing-keys`, and the deprecated `/video/v1/signing-keys`).
        case systemRead, systemWrite
    }

    /// One credential as configured: an id, the secret or its SHA-256 (hex), the permissions.
    struct Credential: Sendable, Equatable {
        enum Secret: Sendable, Equatable {
            case plain(String)
            case sha256(hex: String)
        }
        var id: String
        var secret: Secret
        var permissions: Set<Permission>
    }

    private struct Entry: Sendable {
        var digest: [UInt8]
        var permissions: Set<Permission>
    }

    private let entries: Mutex<[String: Entry]>

    init(_ credentials: [Credential]) { entries = Mutex(Self.entries(credentials)) }

    /// Replaces the credentials (config reload).
    func replace(with credentials: [Credential]) { entries.withLock { $0 = Self.entries(credentials) } }

    private static func entries(_ credentials: [Credential]) -> [String: Entry] {
        var result: [String: Entry] = [:]
        for credential in credentials {
            let digest: [UInt8]
            switch credential.secret {
            case .plain(let secret): digest = Array(SHA256.hash(data: Array(secret.utf8)))
            case .sha256(let hex): digest = Self.bytes(hex: hex)
            }
            result[credential.id] = Entry(digest: digest, permissions: credential.permissions)
        }
        return result
    }

    private static func bytes(hex: String) -> [UInt8] {
        let digits = Array(hex.utf8)
        return stride(from: 0, to: digits.count - 1, by: 2).map { offset in
            UInt8(String(decoding: digits[offset...offset + 1], as: UTF8.self), radix: 16) ?? 0
        }
    }

    /// The permissions of the credentials in an `Authorization: Basic ...` header, or nil.
    func permissions(authorization: String?) -> Set<Permission>? {
        guard let authorization, authorization.count < 4096,
              authorization.lowercased().hasPrefix("basic "),
              let decoded = Data(base64Encoded: String(authorization.dropFirst(6)).trimmingCharacters(in: .whitespaces)),
              let text = String(data: decoded, encoding: .utf8),
              let colon = text.firstIndex(of: ":") else { return nil }
        let id = String(text[..<colon])
        let digest = Array(SHA256.hash(data: Array(text[text.index(after: colon)...].utf8)))
        // Look up by id, then compare digests in constant time; an unknown id costs the same.
        let entry = entries.withLock { $0[id] }
        let matches = Self.constantTimeEquals(entry?.digest ?? [UInt8](repeating: 0, count: 32), digest)
        return matches ? entry?.permissions : nil
    }

    /// Equal byte strings, compared in time that depends only on their lengths.
    static func constantTimeEquals(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        var difference: UInt8 = 0
        for index in a.indices { difference |= a[index] ^ b[index] }
        return difference == 0
    }
}
