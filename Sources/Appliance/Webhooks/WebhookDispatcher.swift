import Foundation
import Logging
import ServiceLifecycle
import Synchronization

/// The webhooks Service: one ``EndpointWorker`` per configured endpoint, each a child task of
/// `run()`. A reload swaps the set without losing what is queued: kept endpoints (by URL) keep their
/// queue and worker (and get the new secret, filter, CA file and settings), new ones start empty,
/// removed ones' queued events are dropped (logged and counted). It starts before the hub and stops
/// after it, so the events of the last broadcasts' end are delivered before the process exits, for up
/// to one attempt's timeout; whatever is not delivered by then waits in the outbox for the next start.
final class WebhookDispatcher: Service, Sendable {
    private enum Command: Sendable {
        case configure([WebhookEndpoint], WebhookSettings)
        /// Drop what was recorded for endpoints that are gone.
        case reconcile
        case stop
    }

    private let outbox: Outbox
    private let makeSender: @Sendable (WebhookEndpoint) -> any WebhookSending
    private let logger: Logger
    private let configuration: Mutex<(endpoints: [WebhookEndpoint], settings: WebhookSettings, generation: Int)>
    private let workers = Mutex<[String: EndpointWorker]>([:])
    private let commands: AsyncStream<Command>
    private let continuation: AsyncStream<Command>.Continuation

    init(outbox: Outbox, endpoints: [WebhookEndpoint], settings: WebhookSettings, logger: Logger,
         makeSender: @escaping @Sendable (WebhookEndpoint) -> any WebhookSending = { WebhookSender(url: $0.url, caFile: $0.caFile) }) {
        self.outbox = outbox
        self.makeSender = makeSender
        self.logger = logger
        configuration = Mutex((endpoints, settings, 0))
        (commands, continuation) = AsyncStream.makeStream(of: Command.self)
    }

    /// Which endpoints (their URLs, the outbox's keys) an event type goes to, and the configuration's generation.
    func routing() -> (endpoints: @Sendable (String) -> [String], generation: Int) {
        let (endpoints, generation) = configuration.withLock { ($0.endpoints, $0.generation) }
        return ({ type in endpoints.filter { $0.accepts(type) }.map(\.url) }, generation)
    }

    func reconcile() { continuation.yield(.reconcile) }

    var settings: WebhookSettings { configuration.withLock { $0.settings } }

    /// Events were recorded: every worker looks at its queue.
    func wake() {
        for worker in workers.withLock({ Array($0.values) }) { worker.send(.wake(recorded: true)) }
    }

    /// Deliveries waiting, all endpoints (as last counted, about every second).
    var queued: Int { workers.withLock { $0.values.reduce(0) { $0 + $1.queued.load(ordering: .relaxed) } } }

    /// A reload: new events go to `endpoints` from now on.
    func configure(_ endpoints: [WebhookEndpoint], _ settings: WebhookSettings) {
        configuration.withLock { $0 = (endpoints, settings, $0.generation + 1) }
        continuation.yield(.configure(endpoints, settings))
    }

    func run() async throws {
        let environment = WebhookEnvelope.Environment(name: settings.environmentName, id: try await outbox.environmentID())
        let (endpoints, settings) = configuration.withLock { ($0.endpoints, $0.settings) }
        await withGracefulShutdownHandler {
            await withDiscardingTaskGroup { group in
                await apply(endpoints, settings, environment: environment, group: &group)
                for await command in commands {
                    switch command {
                    case .configure(let endpoints, let settings):
                        await apply(endpoints, settings, environment: environment, group: &group)
                    case .reconcile:
                        let (endpoints, settings) = configuration.withLock { ($0.endpoints, $0.settings) }
                        await apply(endpoints, settings, environment: environment, group: &group)
                    case .stop:
                        for worker in workers.withLock({ Array($0.values) }) { worker.send(.stop) }
                    }
                    if case .stop = command { break }
                }
            }
        } onGracefulShutdown: { [continuation] in
            continuation.yield(.stop)
        }
    }

    private func apply(_ endpoints: [WebhookEndpoint], _ settings: WebhookSettings, environment: WebhookEnvelope.Environment,
                       group: inout DiscardingTaskGroup) async {
        let wanted = Dictionary(endpoints.map { ($0.url, $0) }, uniquingKeysWith: { first, _ in first })
        do {
            WebhookEndpoint.report(try await outbox.retain(endpoints: Set(wanted.keys)), reason: "endpoint_removed",
                                   "webhook endpoint removed from the configuration: its queued events are dropped", logger: logger)
        } catch {
            logger.error("webhook outbox unreadable", metadata: ["error": "\(error)"])
        }
        var started: [EndpointWorker] = []
        workers.withLock { workers in
            for (key, worker) in Array(workers) {
                // The URL makes the worker: one per queue; a new CA file gives it a new HTTP client.
                if let endpoint = wanted[key] {
                    worker.update(endpoint, settings)
                } else {
                    worker.send(.stop)
                    workers[key] = nil
                }
            }
            for (key, endpoint) in wanted where workers[key] == nil {
                let worker = EndpointWorker(endpoint: endpoint, settings: settings, outbox: outbox, makeSender: makeSender,
                                            environment: environment, logger: logger)
                workers[key] = worker
                started.append(worker)
            }
        }
        for worker in started {
            group.addTask { await worker.run() }
            worker.send(.wake(recorded: true))
        }
        if !started.isEmpty {
            logger.info("webhook endpoints", metadata: ["endpoints": "\(endpoints.map(\.label))"])
        }
    }
}
