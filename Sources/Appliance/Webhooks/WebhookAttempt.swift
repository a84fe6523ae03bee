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

    /// The list stored in the outbox, with `attempt` appended.
    static func appending(_ attempt: WebhookAttempt, to stored: Data) -> Data {
        var list = (try? JSONDecoder().decode([WebhookAttempt].self, from: stored)) ?? []
        list.append(attempt)
        return (try? JSONEncoder().encode(list)) ?? stored
    }
}
