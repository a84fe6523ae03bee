import Logging
import Media
import NIOCore

/// The answer to a publish request.
enum PublishDecision: Sendable {
    /// Go ahead: send media to `output` tagged with `session`.
    case accepted(PublishGrant)
    /// Refuse with this onStatus code and description, then close.
    case refused(code: String, description: String)
}

/// What an accepted publisher needs.
struct PublishGrant: Sendable {
    var liveStreamID: String
    var session: Int
    var output: any StreamOutput
    /// Seconds after which the publisher is disconnected (Mux max_continuous_duration).
    var maxContinuousDuration: Int
}

/// The live-stream hub: one publisher per stream, the idle/active status machine, the reconnect window.
///
/// A broadcast starts with the first accepted publisher and ends when no publisher has been back for
/// the stream's reconnect window; in between, publishers come and go and the playlist continues.
actor StreamHub {
    private struct Broadcast {
        var output: any StreamOutput
        var publisher: (any Publisher)?
        var session: Int
        var active = false
        var reconnectWindow: Double
        var ending: Task<Void, Never>?
    }

    private let directory: any StreamDirectory
    private let outputs: any StreamOutputFactory
    private let takeoverAfterNanoseconds: UInt64
    private let maxPublishers: Int
    private let maxContinuousDuration: Int
    private let logger: Logger
    private var broadcasts: [String: Broadcast] = [:]
    private var sessionCounter = 0

    init(directory: any StreamDirectory, outputs: any StreamOutputFactory, takeoverAfter: Double, maxPublishers: Int = .max,
         maxContinuousDuration: Int = .max, logger: Logger) {
        self.directory = directory
        self.outputs = outputs
        self.takeoverAfterNanoseconds = UInt64(takeoverAfter * 1e9)
        self.maxPublishers = maxPublishers
        self.maxContinuousDuration = maxContinuousDuration
        self.logger = logger
    }

    /// Streams with a connected publisher.
    var publishingCount: Int { broadcasts.values.filter { $0.publisher != nil }.count }

    /// Decides a publish with `streamKey`; never logs the key.
    func authorise(streamKey: String, publisher: any Publisher) -> PublishDecision {
        let stream: LiveStream?
        do {
            stream = try directory.liveStream(streamKey: streamKey)
        } catch {
            logger.error("stream lookup failed", metadata: ["error": "\(error)"])
            return .refused(code: "NetStream.Publish.Failed", description: "temporarily unavailable")
        }
        guard let stream else {
            return .refused(code: "NetStream.Publish.BadName", description: "unknown stream key")
        }
        guard stream.status != .disabled else {
            logger.notice("publish refused: stream disabled", metadata: ["live_stream_id": "\(stream.id)"])
            return .refused(code: "NetStream.Publish.BadName", description: "live stream is disabled")
        }
        if broadcasts[stream.id]?.publisher == nil, publishingCount >= maxPublishers {
            logger.warning("publish refused: max_publishers reached", metadata: ["live_stream_id": "\(stream.id)", "max_publishers": "\(maxPublishers)"])
            return .refused(code: "NetStream.Publish.Rejected", description: "the appliance is publishing its maximum number of streams")
        }
        sessionCounter += 1
        let session = sessionCounter
        if var broadcast = broadcasts[stream.id] {
            if let current = broadcast.publisher {
                let silent = NIODeadline.now().uptimeNanoseconds &- current.lastActivityNanoseconds
                guard silent >= takeoverAfterNanoseconds else {
                    logger.notice("publish refused: stream is receiving media", metadata: ["live_stream_id": "\(stream.id)"])
                    return .refused(code: "NetStream.Publish.BadName", description: "stream is already being published")
                }
                logger.notice("publisher taking over a silent session", metadata: ["live_stream_id": "\(stream.id)"])
                broadcast.output.sessionEnded(broadcast.session)
                current.disconnect(reason: "taken over by a new publisher")
            }
            broadcast.ending?.cancel()
            broadcast.ending = nil
            broadcast.publisher = publisher
            broadcast.session = session
            broadcast.reconnectWindow = stream.reconnectWindow
            broadcasts[stream.id] = broadcast
            broadcast.output.sessionStarted(session)
            logger.info("publisher reconnected", metadata: ["live_stream_id": "\(stream.id)", "session": "\(session)"])
            return .accepted(PublishGrant(liveStreamID: stream.id, session: session, output: broadcast.output,
                                          maxContinuousDuration: min(stream.maxContinuousDuration, maxContinuousDuration)))
        }
        let output = outputs.makeOutput(for: stream)
        broadcasts[stream.id] = Broadcast(output: output, publisher: publisher, session: session,
                                          reconnectWindow: stream.reconnectWindow)
        output.sessionStarted(session)
        logger.info("broadcast started", metadata: ["live_stream_id": "\(stream.id)", "session": "\(session)"])
        return .accepted(PublishGrant(liveStreamID: stream.id, session: session, output: output,
                                      maxContinuousDuration: min(stream.maxContinuousDuration, maxContinuousDuration)))
    }

    /// The first media of a session arrived: the stream is active.
    func mediaStarted(liveStreamID: String, session: Int) {
        guard var broadcast = broadcasts[liveStreamID], broadcast.session == session, !broadcast.active else { return }
        broadcast.active = true
        broadcasts[liveStreamID] = broadcast
        updateStatus(liveStreamID, .active)
    }

    /// A publisher's connection ended (closed, unpublished, timed out, refused mid-stream).
    func publisherEnded(liveStreamID: String, session: Int) {
        guard var broadcast = broadcasts[liveStreamID], broadcast.session == session, broadcast.publisher != nil else { return }
        broadcast.publisher = nil
        broadcast.output.sessionEnded(session)
        let window = broadcast.reconnectWindow
        broadcast.ending = Task { [weak self] in
            if window > 0 { try? await Task.sleep(for: .milliseconds(Int64(window * 1000))) }
            guard !Task.isCancelled else { return }
            await self?.endBroadcast(liveStreamID: liveStreamID, session: session)
        }
        broadcasts[liveStreamID] = broadcast
        logger.info("publisher gone; waiting for a reconnect", metadata: ["live_stream_id": "\(liveStreamID)", "reconnect_window": "\(window)"])
    }

    /// Ends a broadcast for good: final playlist, status idle.
    private func endBroadcast(liveStreamID: String, session: Int) {
        guard let broadcast = broadcasts[liveStreamID], broadcast.session == session, broadcast.publisher == nil else { return }
        broadcasts[liveStreamID] = nil
        broadcast.output.broadcastEnded()
        if broadcast.active { updateStatus(liveStreamID, .idle) }
        logger.info("broadcast ended", metadata: ["live_stream_id": "\(liveStreamID)"])
    }

    /// Ends a broadcast now and disconnects its publisher at once (delete, disable).
    func stop(liveStreamID: String, reason: String) {
        guard let broadcast = broadcasts.removeValue(forKey: liveStreamID) else { return }
        broadcast.ending?.cancel()
        if let publisher = broadcast.publisher {
            broadcast.output.sessionEnded(broadcast.session)
            publisher.disconnect(reason: reason)
        }
        broadcast.output.broadcastEnded()
        logger.info("broadcast stopped", metadata: ["live_stream_id": "\(liveStreamID)", "reason": "\(reason)"])
    }

    /// Disconnects the publisher (its stream key was reset); the broadcast waits for a reconnect.
    func disconnectPublisher(liveStreamID: String, reason: String) {
        guard let publisher = broadcasts[liveStreamID]?.publisher else { return }
        logger.info("publisher disconnected", metadata: ["live_stream_id": "\(liveStreamID)", "reason": "\(reason)"])
        publisher.disconnect(reason: reason)
    }

    /// Mux "complete": the playlist ends now (EXT-X-ENDLIST); the encoder is dropped after
    /// `dropAfter` seconds so one that reconnects by itself does not start a new broadcast at once.
    func complete(liveStreamID: String, dropAfter: Double = 60) {
        guard let broadcast = broadcasts.removeValue(forKey: liveStreamID) else { return }
        broadcast.ending?.cancel()
        broadcast.output.broadcastEnded()
        if broadcast.active { updateStatus(liveStreamID, .idle) }
        if let publisher = broadcast.publisher {
            Task {
                try? await Task.sleep(for: .milliseconds(Int64(dropAfter * 1000)))
                publisher.disconnect(reason: "live stream completed")
            }
        }
        logger.info("broadcast completed", metadata: ["live_stream_id": "\(liveStreamID)"])
    }

    /// Ends every broadcast now (shutdown): publishers are disconnected, playlists final.
    func endAll() {
        for (id, broadcast) in broadcasts {
            broadcast.ending?.cancel()
            if let publisher = broadcast.publisher {
                broadcast.output.sessionEnded(broadcast.session)
                publisher.disconnect(reason: "server shutting down")
            }
            broadcast.output.broadcastEnded()
            if broadcast.active { updateStatus(id, .idle) }
        }
        broadcasts.removeAll()
    }

    private func updateStatus(_ id: String, _ status: LiveStream.Status) {
        do {
            try directory.setStatus(id: id, status, ingestProtocol: "rtmp")
            logger.info("live stream \(status.rawValue)", metadata: ["live_stream_id": "\(id)"])
        } catch {
            logger.error("status update failed", metadata: ["live_stream_id": "\(id)", "error": "\(error)"])
        }
    }
}
