import Foundation
import Media
import Synchronization

/// The API credentials from `access_tokens`, replaceable at run time (SIGHUP reload).
///
/// Secrets are held only as SHA-256 digests; a presented secret is hashed and compared in
/// constant time, so neither the comparison nor memory reveals a secret.
final class AccessTokens: Sendable {
    struct Entry: Sendable {
        var digest: [UInt8]
        var permissions: Set<Config.AccessToken.Permission>
    }

    private let entries: Mutex<[String: Entry]>

    init(_ tokens: [Config.AccessToken]) { entries = Mutex(Self.entries(tokens)) }

    /// Replaces the credentials (config reload).
    func replace(with tokens: [Config.AccessToken]) { entries.withLock { $0 = Self.entries(tokens) } }

    private static func entries(_ tokens: [Config.AccessToken]) -> [String: Entry] {
        var result: [String: Entry] = [:]
        for token in tokens {
            let digest: [UInt8]
            switch token.secret {
            case .plain(let secret): digest = SHA256.hash(Array(secret.utf8))
            case .sha256(let hex): digest = stride(from: 0, to: hex.count, by: 2).map { offset in
                let start = hex.index(hex.startIndex, offsetBy: offset)
                return UInt8(hex[start..<hex.index(start, offsetBy: 2)], radix: 16) ?? 0
            }
            }
            result[token.id] = Entry(digest: digest, permissions: Set(token.permissions))
        }
        return result
    }

    /// The permissions of the credentials in an `Authorization: Basic ...` header, or nil.
    func permissions(authorization: String?) -> Set<Config.AccessToken.Permission>? {
        guard let authorization, authorization.count < 4096,
              authorization.lowercased().hasPrefix("basic "),
              let decoded = Data(base64Encoded: String(authorization.dropFirst(6)).trimmingCharacters(in: .whitespaces)),
              let text = String(data: decoded, encoding: .utf8),
              let colon = text.firstIndex(of: ":") else { return nil }
        let id = String(text[..<colon])
        let digest = SHA256.hash(Array(text[text.index(after: colon)...].utf8))
        // Look up by id, then compare digests in constant time; an unknown id costs the same.
        let entry = entries.withLock { $0[id] }
        let expected = entry?.digest ?? [UInt8](repeating: 0, count: 32)
        var difference: UInt8 = entry == nil ? 1 : 0
        for (a, b) in zip(expected, digest) { difference |= a ^ b }
        return difference == 0 ? entry?.permissions : nil
    }
}
