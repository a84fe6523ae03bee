import Logging
import Metrics
import Synchronization

/// The appliance's one ordered stream of lifecycle events, fanned out to every subscriber (logs,
/// metrics and STATUS now; webhooks and recordings next). Each subscriber has its own bounded buffer:
/// one that falls behind loses events (counted in `onair_lifecycle_events_dropped_total` and logged),
/// it never slows the hub or ingest.
final class LifecycleEvents: Sendable {
    private struct Subscriber {
        var name: String
        var continuation: AsyncStream<LifecycleEvent>.Continuation
        var dropped: Counter
    }

    private let subscribers = Mutex<[Subscriber]>([])
    private let logger: Logger
    let bufferSize: Int

    init(bufferSize: Int = 4096, logger: Logger) {
        self.bufferSize = bufferSize
        self.logger = logger
    }

    /// A new subscriber's stream: every event published from now on, in order, until ``finish()``.
    func subscribe(_ name: String) -> AsyncStream<LifecycleEvent> {
        let (stream, continuation) = AsyncStream.makeStream(of: LifecycleEvent.self, bufferingPolicy: .bufferingOldest(bufferSize))
        let dropped = Counter(label: Self.droppedMetric, dimensions: [("subscriber", name)])
        subscribers.withLock { $0.append(Subscriber(name: name, continuation: continuation, dropped: dropped)) }
        return stream
    }

    /// Hands `event` to every subscriber without waiting for any.
    func publish(_ event: LifecycleEvent) {
        for subscriber in subscribers.withLock({ $0 }) {
            if case .dropped = subscriber.continuation.yield(event) {
                subscriber.dropped.increment()
                logger.warning("lifecycle event dropped: subscriber is behind", metadata: [
                    "subscriber": "\(subscriber.name)", "event": "\(event.type.rawValue)",
                    "live_stream_id": "\(event.stream.id)", "buffer": "\(bufferSize)"])
            }
        }
    }

    /// Counts `count` events that `subscriber` (the journal, which is not a stream) could not take.
    func lost(_ count: Int, subscriber: String) {
        Counter(label: Self.droppedMetric, dimensions: [("subscriber", subscriber)]).increment(by: count)
        logger.error("lifecycle events lost", metadata: ["subscriber": "\(subscriber)", "events": "\(count)"])
    }

    /// No more events: every subscriber's stream ends after what it has buffered.
    func finish() {
        for subscriber in subscribers.withLock({ $0 }) { subscriber.continuation.finish() }
    }

    static let droppedMetric = "onair_lifecycle_events_dropped_total"
}
