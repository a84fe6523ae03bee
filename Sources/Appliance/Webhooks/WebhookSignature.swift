import Crypto
import Foundation

/// Mux's webhook signature: `Mux-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>`
/// (reference/mux-api.md §8.4), made fresh for every attempt.
enum WebhookSignature {
    static let header = "Mux-Signature"

    static func value(secret: String, timestamp: Int, body: Data) -> String {
        var message = Data("\(timestamp).".utf8)
        message.append(body)
        let code = HMAC<SHA256>.authenticationCode(for: message, using: SymmetricKey(data: Data(secret.utf8)))
        return "t=\(timestamp),v1=" + code.map { String(format: "%02x", $0) }.joined()
    }
}
