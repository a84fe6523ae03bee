import Logging
import Media
import Metrics
import NIOCore

/// Runs one RTMP connection: feeds bytes to the pure ``RTMPServerSession``, carries out its actions,
/// asks the ``StreamHub`` to authorise a publish, and turns media into samples for the stream's output.
///
/// Anything wrong with the connection (protocol error, limit, unsupported codec, timeout) ends this
/// connection only.
final class RTMPConnectionHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let hub: StreamHub
    private let handshakeTimeout: TimeAmount
    private var logger: Logger
    private var session: RTMPServerSession
    private var demuxer = FLVDemuxer()
    private var publisher: PublisherHandle?
    /// This connection's session number with the hub.
    /// This connection's current session with the hub: a new number for every publish request, so a
    /// late answer to an earlier one is recognised.
    private var sessionNumber = 0
    private var requested = false
    private var grant: PublishGrant?
    private var mediaStarted = false
    private var closing = false
    private var timers: [Scheduled<Void>] = []
    private var meters: IngestMeters?

    /// Per-stream counters, made once per publish (label lookups are not free).
    private struct IngestMeters {
        let bytes: Counter
        let videoFrames: Counter
        let audioFrames: Counter
        init(liveStreamID: String) {
            bytes = Counter(label: MetricsRegistry.ingestBytes, dimensions: [("live_stream_id", liveStreamID)])
            videoFrames = Counter(label: MetricsRegistry.ingestFrames, dimensions: [("live_stream_id", liveStreamID), ("track", "video")])
            audioFrames = Counter(label: MetricsRegistry.ingestFrames, dimensions: [("live_stream_id", liveStreamID), ("track", "audio")])
        }
    }

    init(hub: StreamHub, configuration: RTMPConfiguration, handshakeTimeout: TimeAmount, logger: Logger) {
        self.hub = hub
        self.session = RTMPServerSession(configuration: configuration)
        self.handshakeTimeout = handshakeTimeout
        self.logger = logger
    }

    func channelActive(context: ChannelHandlerContext) {
        publisher = PublisherHandle(channel: context.channel)
        logger[metadataKey: "remote"] = "\(context.remoteAddress?.endpoint ?? "?")"
        let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        timers.append(context.eventLoop.scheduleTask(in: handshakeTimeout) {
            let (handler, context) = bound.value
            guard handler.grant == nil else { return }
            handler.logger.notice("connection closed: no accepted publish within the handshake timeout")
            handler.close(context)
        })
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !closing else { return }
        publisher?.touch()
        var buffer = unwrapInboundIn(data)
        meters?.bytes.increment(by: buffer.readableBytes)
        do {
            let actions = try session.receive(&buffer)
            perform(actions, context)
        } catch {
            logger.warning("connection closed: RTMP protocol error", metadata: ["error": "\(error)"])
            close(context)
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is IdleStateHandler.IdleStateEvent {
            logger.notice("connection closed: publisher idle")
            close(context)
        } else {
            context.fireUserInboundEventTriggered(event)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        logger.debug("connection error", metadata: ["error": "\(error)"])
        close(context)
    }

    func channelInactive(context: ChannelHandlerContext) {
        for timer in timers { timer.cancel() }
        timers.removeAll()
        closing = true
        if requested { hub.send(.publisherGone(session: sessionNumber)) }
        context.fireChannelInactive()
    }

    // MARK: Actions

    private func perform(_ actions: [RTMPSessionAction], _ context: ChannelHandlerContext) {
        var wrote = false
        for action in actions {
            guard !closing else { break }
            switch action {
            case .send(let bytes):
                context.write(wrapOutboundOut(bytes), promise: nil)
                wrote = true
            case .connected(let app, _):
                logger.debug("RTMP connect", metadata: ["app": "\(app)"])
            case .publishRequested(_, let streamName):
                requestPublish(streamKey: streamName, context)
            case .video(let timestamp, let payload):
                deliver(context) { try $0.video(timestamp: timestamp, body: payload) }
            case .audio(let timestamp, let payload):
                deliver(context) { try $0.audio(timestamp: timestamp, body: payload) }
            case .metadata(_, let values):
                demuxer.metadata(values)
            case .unpublished:
                endPublishing()
            }
        }
        if wrote { context.flush() }
    }

    /// Asks the hub; its answer comes back on this connection's event loop. Publish requests,
    /// first media and the connection's end reach the hub in this order through one queue.
    private func requestPublish(streamKey: String, _ context: ChannelHandlerContext) {
        guard !requested, let publisher else { return }
        requested = true
        sessionNumber = StreamHub.nextSession()
        let requestSession = sessionNumber
        let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        let loop = context.eventLoop
        hub.send(.publish(PublishRequest(session: requestSession, streamKey: streamKey, publisher: publisher) { decision in
            loop.execute {
                let (handler, context) = bound.value
                handler.decide(decision, for: requestSession, context)
            }
        }))
    }

    private func decide(_ decision: PublishDecision, for requestSession: Int, _ context: ChannelHandlerContext) {
        // Gone, unpublished or asking again already: the hub has heard of it.
        guard !closing, requested, requestSession == sessionNumber else { return }
        switch decision {
        case .accepted(let grant):
            self.grant = grant
            meters = IngestMeters(liveStreamID: grant.liveStreamID)
            logger[metadataKey: "live_stream_id"] = "\(grant.liveStreamID)"
            logger.info("publish accepted")
            perform(session.acceptPublish(), context)
        case .refused(let reason):
            logger.notice("publish refused", metadata: ["code": "\(Self.code(for: reason))", "reason": "\(reason.description)"])
            refuse(code: Self.code(for: reason), description: reason.description, context)
        }
    }

    /// The NetStatus code of a refusal: BadName for the key's own problems, Rejected for limits,
    /// Failed when the appliance cannot decide now.
    static func code(for refusal: PublishRefusal) -> String {
        switch refusal {
        case .unknownKey, .disabled, .alreadyPublishing: "NetStream.Publish.BadName"
        case .capacity: "NetStream.Publish.Rejected"
        case .unavailable: "NetStream.Publish.Failed"
        }
    }

    /// Sends an error onStatus, then closes (old OBS versions hang if the socket stays open).
    private func refuse(code: String, description: String, _ context: ChannelHandlerContext) {
        for case .send(let bytes) in session.rejectPublish(code: code, description: description) {
            context.write(wrapOutboundOut(bytes), promise: nil)
        }
        context.flush()
        close(context)
    }

    private func deliver(_ context: ChannelHandlerContext, _ demux: (inout FLVDemuxer) throws -> [FLVDemuxerEvent]) {
        guard let grant else { return }
        let events: [FLVDemuxerEvent]
        do {
            events = try demux(&demuxer)
        } catch FLVError.unsupportedCodec(let kind, let name) {
            logger.error("publish rejected: unsupported codec", metadata: ["track": "\(kind.rawValue)", "codec": "\(name)"])
            refuse(code: "NetStream.Publish.Rejected", description: "unsupported \(kind.rawValue) codec: \(name) (onair accepts H.264 and AAC)", context)
            return
        } catch {
            logger.warning("malformed media dropped", metadata: ["error": "\(error)"])
            return
        }
        for event in events {
            switch event {
            case .tracks(let video, let audio):
                logger.info("tracks", metadata: ["video": "\(video?.codecString ?? "none")", "audio": "\(audio?.codecString ?? "none")"])
                grant.output.tracks(video: video, audio: audio, session: grant.session)
            case .sample(let sample):
                if !mediaStarted {
                    mediaStarted = true
                    hub.send(.firstMedia(session: grant.session))
                }
                (sample.kind == .video ? meters?.videoFrames : meters?.audioFrames)?.increment()
                grant.output.append(sample, session: grant.session)
            }
        }
    }

    /// The publisher unpublished: its session ends (the connection may publish again, or close).
    private func endPublishing() {
        guard requested else { return }
        requested = false
        grant = nil
        mediaStarted = false
        hub.send(.publisherGone(session: sessionNumber))
    }

    private func close(_ context: ChannelHandlerContext) {
        guard !closing else { return }
        closing = true
        context.close(promise: nil)
    }
}
