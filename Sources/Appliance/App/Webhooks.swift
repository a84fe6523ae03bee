import ArgumentParser
import Foundation

/// `onair webhooks test`: sends one signed test event to the configured endpoints (or one of them)
/// and prints what each answered; exit 1 when any did not answer 2xx.
struct Webhooks: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Webhook endpoints: send a signed test event.",
        subcommands: [Test.self])

    struct Test: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "POST a signed test event (type onair.webhook.test) and print each endpoint's answer.")
        @OptionGroup var config: ConfigOption
        @Option(help: "Send to this configured endpoint only (its URL as in the configuration).")
        var url: String?

        func run() async throws {
            let config = try config.load()
            let settings = WebhookSettings(config)
            var endpoints = config.webhooks.map(WebhookEndpoint.init)
            if let url {
                endpoints = endpoints.filter { $0.url == url }
                guard !endpoints.isEmpty else {
                    FileHandle.standardError.write(Data("onair: \(url) is not among the webhooks of \(self.config.config)\n".utf8))
                    throw ExitCode(1)
                }
            }
            guard !endpoints.isEmpty else {
                FileHandle.standardError.write(Data("onair: \(self.config.config) has no webhooks (add a `webhooks:` entry)\n".utf8))
                throw ExitCode(1)
            }
            let store = LiveStreamStore(path: config.storage.database)
            defer { DatabaseOwnership.matchDirectory(of: config.storage.database) }
            let environment = WebhookEnvelope.Environment(name: settings.environmentName, id: (try? await Outbox(store: store).environmentID()) ?? "")
            var failed = false
            for endpoint in endpoints {
                let now = Date().timeIntervalSince1970
                let id = UUID().uuidString.lowercased()
                let data = Data(#"{"message":"A test event from onair: this endpoint receives its webhooks."}"#.utf8)
                let body = WebhookEnvelope.body(id: id, type: "onair.webhook.test", objectType: "webhook", objectID: String(endpoint.webhookID),
                                                environment: environment, data: data, createdAt: now, attempts: Data("[]".utf8))
                let sender = WebhookSender(url: endpoint.url, caFile: endpoint.caFile)
                let started = ContinuousClock.now
                let response = await sender.post(body, headers: [
                    ("Content-Type", "application/json"), ("User-Agent", settings.userAgent),
                    (WebhookSignature.header, WebhookSignature.value(secret: endpoint.signingSecret, timestamp: Int(now), body: body)),
                ], timeout: settings.timeout)
                let elapsed = ContinuousClock.now - started
                await sender.shutdown()
                let ms = Int(elapsed.components.seconds * 1000 + elapsed.components.attoseconds / 1_000_000_000_000_000)
                if let status = response.status {
                    print("\(endpoint.url): HTTP \(status) in \(ms) ms (event \(id))")
                    for (name, value) in response.headers.sorted(by: { $0.key < $1.key }) { print("  \(name): \(value)") }
                    if let text = response.body, !text.isEmpty { print("  " + text.replacingOccurrences(of: "\n", with: "\n  ")) }
                } else {
                    print("\(endpoint.url): no answer after \(ms) ms: \(response.error ?? "unknown error")")
                }
                failed = failed || !response.succeeded
            }
            if failed { throw ExitCode(1) }
        }
    }
}
