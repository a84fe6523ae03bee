import Foundation

/// The body of a webhook POST, exactly Mux's envelope (reference/mux-api.md §8.2): `type`,
/// `object {type, id}`, `id` (the same on every attempt), `environment {name, id}`, `data` (the
/// object, as recorded), `created_at` (ISO-8601 with microseconds and Z), `attempts` (the earlier
/// ones), and the deprecated `accessor_source`, `accessor`, `request_id`, always null.
enum WebhookEnvelope {
    struct Environment: Sendable, Equatable {
        var name: String
        var id: String
    }

    static func body(id: String, type: String, objectType: String, objectID: String, environment: Environment,
                     data: Data, createdAt: Double, attempts: Data) -> Data {
        var body = Data("{\"type\":\(string(type)),\"object\":{\"type\":\(string(objectType)),\"id\":\(string(objectID))},".utf8)
        body.append(Data("\"id\":\(string(id)),\"environment\":{\"name\":\(string(environment.name)),\"id\":\(string(environment.id))},\"data\":".utf8))
        body.append(data)
        body.append(Data(",\"created_at\":\(string(timestamp(createdAt))),\"attempts\":".utf8))
        body.append(attempts)
        body.append(Data(",\"accessor_source\":null,\"accessor\":null,\"request_id\":null}".utf8))
        return body
    }

    /// `2022-07-14T21:08:27.123456Z` for Unix seconds (by gmtime_r: a Foundation date formatter
    /// costs more than the whole rest of an attempt).
    static func timestamp(_ seconds: Double) -> String {
        var whole = seconds.rounded(.down)
        var micros = Int(((seconds - whole) * 1_000_000).rounded())
        if micros == 1_000_000 { whole += 1; micros = 0 }
        var time = time_t(whole)
        var parts = tm()
        gmtime_r(&time, &parts)
        func two(_ value: Int32) -> String { value < 10 ? "0\(value)" : "\(value)" }
        return "\(parts.tm_year + 1900)-\(two(parts.tm_mon + 1))-\(two(parts.tm_mday))T\(two(parts.tm_hour)):\(two(parts.tm_min)):"
            + "\(two(parts.tm_sec)).\(String(micros).leftPadded(to: 6))Z"
    }

    private static func string(_ text: String) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.withoutEscapingSlashes]
        return String(decoding: (try? encoder.encode(text)) ?? Data("\"\"".utf8), as: UTF8.self)
    }
}
