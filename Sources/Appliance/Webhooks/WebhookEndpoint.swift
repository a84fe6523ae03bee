import Crypto
import Foundation
import Logging
import Metrics

/// One receiver of webhooks, as configured (`webhooks:` in onair.yaml).
struct WebhookEndpoint: Sendable, Equatable {
    /// Where events are POSTed (http or https).
    var url: String
    /// The key of the `Mux-Signature` HMAC.
    var signingSecret: String
    /// The event types it receives; nil: every type.
    var events: Set<String>?
    /// PEM certificates trusted for its HTTPS besides the system store.
    var caFile: String?

    func accepts(_ type: String) -> Bool { events?.contains(type) ?? true }

    /// Counts and logs deliveries given up for `reason` (`outbox_full`, `endpoint_removed`): one line per endpoint.
    static func report(_ dropped: [Outbox.Dropped], reason: String, _ message: Logger.Message, logger: Logger,
                       metadata extra: Logger.Metadata = [:]) {
        for (endpoint, lost) in Dictionary(grouping: dropped, by: \.endpoint) {
            let label = label(for: endpoint)
            Counter(label: MetricsRegistry.webhookDropped, dimensions: [("endpoint", label), ("reason", reason)]).increment(by: lost.count)
            logger.warning(message, metadata: extra.merging([
                "endpoint": "\(label)", "events": "\(lost.count)", "oldest": "\(lost[0].type) \(lost[0].eventID)"]) { $1 })
        }
    }

    /// The endpoint's `webhook_id` in attempts: a stable number from its URL (Mux numbers its webhooks).
    var webhookID: Int {
        let digest = Array(SHA256.hash(data: Data(url.utf8)))
        return digest.prefix(6).reduce(0) { $0 << 8 | Int($1) }
    }

    /// The endpoint as metrics and logs show it: scheme, host and port, and a hash of the whole URL
    /// (`https://app.example.com#3f2a9c1b`): the path, query or user info may hold a token.
    var label: String { Self.label(for: url) }

    static func label(for url: String) -> String {
        let digest = WebhookSignature.hex(SHA256.hash(data: Data(url.utf8)).prefix(4))
        guard let components = URLComponents(string: url), let scheme = components.scheme, let host = components.host else {
            return "#" + digest
        }
        let port = components.port.map { ":\($0)" } ?? ""
        return "\(scheme)://\(host.contains(":") ? "[\(host)]" : host)\(port)#\(digest)"
    }
}

/// How every endpoint is delivered to.
struct WebhookSettings: Sendable, Equatable {
    /// `environment.name` in every envelope.
    var environmentName: String
    /// One attempt's limit, connect to last byte (Mux: 5 s).
    var timeout: Duration = .seconds(5)
    /// The retry schedule; its `retryFor` is how long an event is tried (Mux: 24 h).
    var schedule = RetrySchedule()
    /// Most deliveries queued in the outbox, all endpoints together; the oldest go first.
    var maxQueued = 100_000
    /// Deliveries in flight at once per endpoint (each for another live stream).
    var concurrency = 8
    var userAgent = "onair"
}
