import Foundation
import Logging
import NIOCore
import NIOPosix
import NIOSSL
import ServiceLifecycle
import Synchronization

/// Simulcast: wraps the packagers' factory so each broadcast of a stream with targets is also pushed
/// to them, keeps every target's status for the API, and turns status changes into Mux's
/// `video.live_stream.simulcast_target.*` events (a log line each, and the webhooks' outbox), written
/// by its run loop as a Service, in order.
final class Simulcast: StreamOutputFactory, Service {
    /// A status change or a created/deleted target, as its webhook records it.
    struct Event: Sendable {
        enum Kind: String, Sendable, CaseIterable {
            case created, deleted, idle, starting, broadcasting, errored
        }
        var kind: Kind
        var target: SimulcastTarget
        var liveStreamID: String
        var status: SimulcastStatus
    }

    private let packagers: any StreamOutputFactory
    private let settings: Mutex<SimulcastPusher.Settings>
    private let tls: Mutex<NIOSSLContext?>
    private let statuses = Mutex<[String: SimulcastStatus]>([:])
    /// Events in order; nil marks the start of the shutdown.
    private let events: AsyncStream<Event?>
    private let continuation: AsyncStream<Event?>.Continuation
    private let record: @Sendable (Event) async -> Void
    private let logger: Logger

    /// `record` writes one event (the webhooks' journal); `tls` verifies rtmps:// targets.
    init(packagers: any StreamOutputFactory, settings: SimulcastPusher.Settings, tls: NIOSSLContext?, logger: Logger,
         record: @escaping @Sendable (Event) async -> Void) {
        self.packagers = packagers
        self.settings = Mutex(settings)
        self.tls = Mutex(tls)
        self.logger = logger
        self.record = record
        (events, continuation) = AsyncStream.makeStream(of: Event?.self, bufferingPolicy: .bufferingOldest(4096))
    }

    /// The client TLS context for rtmps:// targets: the system's trust store, plus `caFile`'s certificates.
    static func tlsContext(caFile: String?) throws -> NIOSSLContext {
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.minimumTLSVersion = .tlsv12
        if let caFile { configuration.additionalTrustRoots = [.file(caFile)] }
        return try NIOSSLContext(configuration: configuration)
    }

    /// Settings for broadcasts that start from now on (a reload).
    func configure(_ next: SimulcastPusher.Settings, tls nextTLS: NIOSSLContext?) {
        settings.withLock { $0 = next }
        tls.withLock { $0 = nextTLS }
    }

    // MARK: StreamOutputFactory

    func makeOutput(for stream: LiveStream, onPlayable: @escaping @Sendable () -> Void) async -> any StreamOutput {
        let primary = await packagers.makeOutput(for: stream, onPlayable: onPlayable)
        let targets = stream.simulcastTargets ?? []
        guard !targets.isEmpty else { return primary }
        let settings = settings.withLock { $0 }
        let tls = tls.withLock { $0 }
        let pushers = targets.compactMap { target -> SimulcastPusher? in
            guard let url = try? SimulcastURL(url: target.url, streamKey: target.streamKey) else {
                logger.error("simulcast target skipped: its url is not valid", metadata: ["simulcast_target_id": "\(target.id)"])
                return nil
            }
            return SimulcastPusher(target: target, url: url, liveStreamID: stream.id, loop: Self.loop(for: target.id),
                                   settings: settings, tls: url.tls ? tls : nil, logger: logger) { [weak self] target, liveStreamID, status in
                self?.changed(target, liveStreamID: liveStreamID, to: status)
            }
        }
        return SimulcastOutput(primary: primary, pushers: pushers)
    }

    func removeFiles(of liveStreamID: String) { packagers.removeFiles(of: liveStreamID) }

    /// A target's pushers all run on one loop, so one broadcast's last status and the next one's first
    /// arrive in order.
    private static func loop(for targetID: String) -> any EventLoop {
        let loops = Array(MultiThreadedEventLoopGroup.singleton.makeIterator())
        let index = targetID.utf8.reduce(0) { ($0 &* 31 &+ Int($1)) & 0xFFFF } % loops.count
        return loops[index]
    }

    // MARK: Statuses and events

    /// A target's status now (idle when no broadcast pushes to it).
    func status(of targetID: String) -> SimulcastStatus { statuses.withLock { $0[targetID] } ?? .idle }

    /// The API created or deleted a target.
    func announce(_ kind: Event.Kind, _ target: SimulcastTarget, liveStreamID: String) {
        continuation.yield(Event(kind: kind, target: target, liveStreamID: liveStreamID, status: status(of: target.id)))
    }

    private func changed(_ target: SimulcastTarget, liveStreamID: String, to status: SimulcastStatus) {
        statuses.withLock { all in
            if status == .idle { all.removeValue(forKey: target.id) } else { all[target.id] = status }
        }
        let kind = Event.Kind(rawValue: status.state.rawValue) ?? .idle
        if case .dropped = continuation.yield(Event(kind: kind, target: target, liveStreamID: liveStreamID, status: status)) {
            logger.error("simulcast event dropped: the event writer is behind", metadata: ["simulcast_target_id": "\(target.id)"])
        }
    }

    func run() async throws {
        await withGracefulShutdownHandler {
            for await next in events {
                guard let event = next else {
                    // The hub stopped first and ended every broadcast; their pushers say idle on their
                    // own loops within moments: those events are written too, then the stream ends.
                    let deadline = ContinuousClock.now + .seconds(2)
                    while !statuses.withLock({ $0.isEmpty }), ContinuousClock.now < deadline { try? await Task.sleep(for: .milliseconds(10)) }
                    continuation.finish()
                    continue
                }
                var metadata: Logger.Metadata = [
                    "event": "video.live_stream.simulcast_target.\(event.kind.rawValue)", "simulcast_target_id": "\(event.target.id)",
                    "live_stream_id": "\(event.liveStreamID)", "status": "\(event.status.state.rawValue)"]
                if let severity = event.status.severity { metadata["error_severity"] = "\(severity.rawValue)" }
                logger.info("simulcast target event", metadata: metadata)
                await record(event)
            }
        } onGracefulShutdown: { [continuation] in
            if case .dropped = continuation.yield(nil) { continuation.finish() }  // a full buffer: end now
        }
    }
}
