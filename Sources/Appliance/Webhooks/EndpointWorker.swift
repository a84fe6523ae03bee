import Foundation
import Logging
import Metrics
import Synchronization

/// Delivers one endpoint's queue from the outbox: the oldest event of each live stream, up to
/// `concurrency` streams at once, so events for one stream arrive in order and one stream's retries
/// never hold up another's. A 2xx answer ends a delivery; anything else is tried again on the
/// ``RetrySchedule`` until it runs out (then it is dropped, logged and counted). It is woken when
/// events are recorded and when a delivery ends, and looks every `tick` (a second) for retries due.
final class EndpointWorker: Sendable {
    enum Signal: Sendable {
        /// Something may be due: events were recorded, or a second passed.
        case wake(recorded: Bool)
        /// A delivery ended: the stream's queue moved on (delivered or given up), or its next attempt is due at `retryAt`.
        case finished(objectID: String, advanced: Bool, retryAt: Double?)
        /// Send what is due for up to one attempt's timeout (no retries), wait for what is in flight, end.
        case stop
    }

    let key: String
    /// The endpoint in metrics and logs (its URL is its identity, so this never changes).
    private let label: String
    private let endpoint: Mutex<WebhookEndpoint>
    private let settings: Mutex<WebhookSettings>
    private let outbox: Outbox
    /// The HTTP client in use (the last) and those a CA file change replaced (closed when the worker ends).
    private let senders: Mutex<[any WebhookSending]>
    private let makeSender: @Sendable (WebhookEndpoint) -> any WebhookSending
    private let environment: WebhookEnvelope.Environment
    private let logger: Logger
    private let clock: @Sendable () -> Double
    private let jitter: @Sendable () -> Double
    private let tick: Duration
    private let signals: AsyncStream<Signal>
    private let continuation: AsyncStream<Signal>.Continuation
    private let failing = Mutex(false)
    private let wakePending = Atomic<Bool>(false)
    private let queuedGauge: Gauge
    private let delivered: Counter
    private let retried: Counter
    private let expired: Counter
    private let latency: Timer
    /// Deliveries waiting, as last counted.
    let queued = Atomic<Int>(0)

    init(endpoint: WebhookEndpoint, settings: WebhookSettings, outbox: Outbox, makeSender: @escaping @Sendable (WebhookEndpoint) -> any WebhookSending,
         environment: WebhookEnvelope.Environment, logger: Logger,
         clock: @escaping @Sendable () -> Double = { Date().timeIntervalSince1970 },
         jitter: @escaping @Sendable () -> Double = { Double.random(in: 0...1) }, tick: Duration = .seconds(1)) {
        key = endpoint.url
        self.endpoint = Mutex(endpoint)
        self.settings = Mutex(settings)
        self.outbox = outbox
        self.makeSender = makeSender
        senders = Mutex([makeSender(endpoint)])
        self.environment = environment
        self.logger = logger
        self.clock = clock
        self.jitter = jitter
        self.tick = tick
        (signals, continuation) = AsyncStream.makeStream(of: Signal.self)
        label = endpoint.label
        queuedGauge = Gauge(label: MetricsRegistry.webhookQueued, dimensions: [("endpoint", label)])
        delivered = Counter(label: MetricsRegistry.webhookDelivered, dimensions: [("endpoint", label)])
        retried = Counter(label: MetricsRegistry.webhookRetried, dimensions: [("endpoint", label)])
        expired = Counter(label: MetricsRegistry.webhookDropped, dimensions: [("endpoint", label), ("reason", "expired")])
        latency = Timer(label: MetricsRegistry.webhookLatency, dimensions: [("endpoint", label)], preferredDisplayUnit: .seconds)
        // Every series from the start (at 0), not from its first event.
        for reason in ["outbox_full", "endpoint_removed"] {
            Counter(label: MetricsRegistry.webhookDropped, dimensions: [("endpoint", label), ("reason", reason)]).increment(by: 0)
        }
    }

    func send(_ signal: Signal) {
        // Wakes for recorded events coalesce: a burst of records costs one look at the queue.
        if case .wake(recorded: true) = signal, wakePending.exchange(true, ordering: .acquiringAndReleasing) { return }
        continuation.yield(signal)
    }

    /// A reload: the secret, the event filter, the CA file or the delivery settings changed (the URL is the worker's identity).
    func update(_ endpoint: WebhookEndpoint, _ settings: WebhookSettings) {
        let old = self.endpoint.withLock { current in
            defer { current = endpoint }
            return current
        }
        if old.caFile != endpoint.caFile {
            let fresh = makeSender(endpoint)
            senders.withLock { $0.append(fresh) }
        }
        self.settings.withLock { $0 = settings }
    }

    func run() async {
        let continuation = self.continuation, tick = self.tick
        await withDiscardingTaskGroup { group in
            group.addTask {
                while !Task.isCancelled {
                    try? await Task.sleep(for: tick)
                    continuation.yield(.wake(recorded: false))
                }
            }
            var busy = Set<String>()
            var nextDue: Double? = 0
            var fullPage = false
            /// Set by `.stop`: until then each stream's next event goes once the one before was delivered
            /// (a failure is not tried again before the next start); then the worker ends.
            var stopBy: Double?
            var counted = 0.0
            for await signal in signals {
                var look = false
                switch signal {
                case .wake(let recorded):
                    if recorded { wakePending.store(false, ordering: .releasing) }
                    look = stopBy == nil && (recorded || fullPage || nextDue.map { clock() >= $0 } ?? false)
                case .finished(let objectID, let advanced, let retryAt):
                    busy.remove(objectID)
                    if let retryAt { nextDue = min(nextDue ?? retryAt, retryAt) }
                    // The stream's next event may go now; after a failure only if more were due (no
                    // query per refused connection when an endpoint is down).
                    look = stopBy.map { advanced && clock() < $0 } ?? (advanced || fullPage)
                case .stop:
                    if stopBy != nil { continue }
                    stopBy = clock() + Double(settings.withLock { $0.timeout }.components.seconds)
                    look = true
                }
                if clock() - counted >= 1 {
                    counted = clock()
                    await count()
                }
                let (limit, maxDelay) = settings.withLock { ($0.concurrency, $0.schedule.maxDelay) }
                if look && busy.count < limit {
                    let room = limit - busy.count
                    do {
                        let now = clock()
                        let (due, next) = try await outbox.due(endpoint: key, now: now, latest: now + maxDelay, limit: room, busy: busy)
                        nextDue = next
                        fullPage = due.count == room  // more may be due
                        for delivery in due {
                            busy.insert(delivery.event.objectID)
                            group.addTask { [self] in
                                let (advanced, retryAt) = await deliver(delivery)
                                continuation.yield(.finished(objectID: delivery.event.objectID, advanced: advanced, retryAt: retryAt))
                            }
                        }
                    } catch {
                        logger.error("webhook outbox unreadable", metadata: ["endpoint": "\(label)", "error": "\(error)"])
                        nextDue = clock() + 1
                    }
                }
                if stopBy != nil && busy.isEmpty { break }
            }
            group.cancelAll()
        }
        await count()
        for sender in senders.withLock({ $0 }) { await sender.shutdown() }
    }

    private func count() async {
        let waiting = (try? await outbox.queued(endpoint: key)) ?? 0
        queued.store(waiting, ordering: .relaxed)
        queuedGauge.record(waiting)
    }

    /// One attempt of `delivery`, and what follows from its answer: whether the stream's queue moved on
    /// (delivered, or given up), else when the delivery is due again.
    @discardableResult
    func deliver(_ delivery: Outbox.Delivery) async -> (advanced: Bool, retryAt: Double?) {
        let endpoint = self.endpoint.withLock { $0 }
        let sender = senders.withLock { $0.last! }
        let settings = self.settings.withLock { $0 }
        let event = delivery.event
        let body = WebhookEnvelope.body(id: event.id, type: event.type, objectType: event.objectType, objectID: event.objectID,
                                        environment: environment, data: event.data, createdAt: event.createdAt,
                                        attempts: delivery.attempts)
        let started = clock()
        let signature = WebhookSignature.value(secret: endpoint.signingSecret, timestamp: Int(started), body: body)
        let response = await sender.post(body, headers: [
            ("Content-Type", "application/json"), ("User-Agent", settings.userAgent), (WebhookSignature.header, signature),
        ], timeout: settings.timeout)
        let now = clock()
        let metadata: Logger.Metadata = [
            "endpoint": "\(label)", "event": "\(event.type)", "event_id": "\(event.id)", "object_id": "\(event.objectID)",
            "attempt": "\(delivery.attemptCount + 1)",
        ]
        do {
            if response.succeeded {
                try await outbox.finished(endpoint: key, sequence: delivery.sequence)
                delivered.increment()
                latency.recordSeconds(max(0, now - event.createdAt))
                logger.debug("webhook delivered", metadata: metadata.merging(["status": "\(response.status ?? 0)"]) { $1 })
                if failing.withLock({ let was = $0; $0 = false; return was }) {
                    logger.notice("webhook endpoint answers again", metadata: ["endpoint": "\(label)"])
                }
                return (true, nil)
            }
            let outcome = response.status.map { "HTTP \($0)" } ?? response.error ?? "no answer"
            if !failing.withLock({ let was = $0; $0 = true; return was }) {
                logger.warning("webhook endpoint failing; retrying with backoff", metadata: metadata.merging(["outcome": "\(outcome)"]) { $1 })
            } else {
                logger.debug("webhook attempt failed", metadata: metadata.merging(["outcome": "\(outcome)"]) { $1 })
            }
            let attempt = WebhookAttempt(
                id: delivery.attemptCount + 1, address: endpoint.url, created_at: WebhookEnvelope.timestamp(started),
                max_attempts: settings.schedule.maxAttempts, response_body: response.body, response_headers: response.headers,
                response_status_code: response.status, webhook_id: endpoint.webhookID)
            guard let next = settings.schedule.nextAttempt(afterFailures: delivery.attemptCount + 1, createdAt: event.createdAt,
                                                           now: now, jitter: jitter()) else {
                try await outbox.finished(endpoint: key, sequence: delivery.sequence)
                expired.increment()
                logger.error("webhook dropped: not delivered within retry_for", metadata: metadata.merging([
                    "retry_for": "\(settings.schedule.retryFor)", "outcome": "\(outcome)"]) { $1 })
                return (true, nil)
            }
            try await outbox.failed(endpoint: key, sequence: delivery.sequence,
                                    attempts: WebhookAttempt.appending(attempt, to: delivery.attempts), next: next)
            retried.increment()
            return (false, next)
        } catch {
            // The outbox still has the delivery as it was: it is tried again (the same event id), not at once.
            logger.error("webhook outbox write failed", metadata: metadata.merging(["error": "\(error)"]) { $1 })
            try? await Task.sleep(for: .seconds(1))
            return (false, clock())
        }
    }
}
