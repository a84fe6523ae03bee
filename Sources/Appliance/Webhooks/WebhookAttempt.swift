import Foundation

/// One earlier attempt, in the envelope's `attempts` list, in Mux's item shape (reference/mux-api.md §8.2).
struct WebhookAttempt: Codable, Sendable, Equatable {
    var id: Int
    var address: String
    var created_at: String
    var max_attempts: Int
    var response_body: String?
    var response_headers: [String: String]
    /// Nil when no answer came (refused, timed out).
    var response_status_code: Int?
    var webhook_id: Int

    /// Attempts an envelope lists at most (the latest; each `id` still counts from the first), so a
    /// day of retries never makes a body a receiver refuses for its size.
    static let kept = 10
    /// Bytes of a response body kept per attempt.
    static let bodyKept = 1024

    /// The list stored in the outbox, with `attempt` appended (its body cut to ``bodyKept``).
    static func appending(_ attempt: WebhookAttempt, to stored: Data) -> Data {
        var list = (try? JSONDecoder().decode([WebhookAttempt].self, from: stored)) ?? []
        var attempt = attempt
        if let body = attempt.response_body, body.utf8.count > bodyKept {
            attempt.response_body = String(decoding: body.utf8.prefix(bodyKept), as: UTF8.self)
        }
        list.append(attempt)
        return (try? JSONEncoder().encode(Array(list.suffix(kept)))) ?? stored
    }
}
