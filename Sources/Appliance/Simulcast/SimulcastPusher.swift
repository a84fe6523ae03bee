import Logging
import Media
import Metrics
import NIOCore
import NIOPosix
import NIOSSL

/// Pushes one broadcast on to one simulcast target: an RTMP(S) client connection that
/// ``RTMPClientSession`` speaks and ``RelayFeed`` fills, reconnected with ``SimulcastConnection``'s
/// backoff. Everything it holds is touched on its own event loop only (the broadcast's calls hop
/// there), so a target that refuses, drops or stalls costs the broadcast one enqueue per sample:
/// never a wait, never memory past the feed's bound.
final class SimulcastPusher: @unchecked Sendable {
    struct Settings: Sendable {
        var feed = RelayFeed.Settings()
        var connection = SimulcastConnection.Settings()
        /// From TCP connect to NetStream.Publish.Start.
        var connectTimeout: TimeAmount = .seconds(10)
        /// A connection that could not write for this long is dropped and made again.
        var stallTimeout: TimeAmount = .seconds(20)
    }

    let target: SimulcastTarget
    let liveStreamID: String
    private let url: SimulcastURL
    private let loop: any EventLoop
    private let settings: Settings
    private let tls: NIOSSLContext?
    private let report: @Sendable (SimulcastTarget, String, SimulcastStatus) -> Void
    private let logger: Logger

    // On `loop` only.
    private var feed: RelayFeed
    private var connection: SimulcastConnection
    private var session: RTMPClientSession?
    private var channel: (any Channel)?
    private var timer: Scheduled<Void>?
    private var stallTimer: Scheduled<Void>?
    /// The publisher session whose media is passed on (the broadcast's calls, checked here on the loop).
    private var publisherSession: Int?
    private var publisherSessions = 0

    init(target: SimulcastTarget, url: SimulcastURL, liveStreamID: String, loop: any EventLoop, settings: Settings, tls: NIOSSLContext?,
         logger: Logger, report: @escaping @Sendable (SimulcastTarget, String, SimulcastStatus) -> Void) {
        self.target = target
        self.url = url
        self.liveStreamID = liveStreamID
        self.loop = loop
        self.settings = settings
        self.tls = tls
        self.report = report
        var logger = logger
        logger[metadataKey: "live_stream_id"] = "\(liveStreamID)"
        logger[metadataKey: "simulcast_target_id"] = "\(target.id)"
        logger[metadataKey: "target"] = "\(url.endpoint)"
        self.logger = logger
        feed = RelayFeed(settings: settings.feed)
        connection = SimulcastConnection(settings: settings.connection)
    }

    // MARK: The broadcast's calls (any thread)

    func start() {
        loop.execute { [self] in
            report(target, liveStreamID, connection.started())
            connect()
        }
    }

    func tracks(video: MediaTrack?, audio: MediaTrack?, session: Int) {
        loop.execute { [self] in
            guard session == publisherSession else { return }
            feed.tracks(video: video, audio: audio)
        }
    }

    func append(_ sample: MediaSample, session: Int) {
        loop.execute { [self] in
            guard session == publisherSession else { return }
            if let overflow = feed.sample(sample) {
                Self.overflows.increment()
                Self.droppedBytes.increment(by: overflow.bytes)
                logger.warning("simulcast target is behind: queued media dropped, resuming at the next keyframe", metadata: [
                    "dropped_messages": "\(overflow.messages)", "dropped_bytes": "\(overflow.bytes)",
                    "queue_limit": "\(settings.feed.maximumQueuedBytes)"])
            }
            drain()
        }
    }

    /// A publisher took the broadcast (the first, or one reconnecting within the window: the target
    /// carries on from its first keyframe). Media of any other session is ignored from now on.
    func sessionStarted(_ session: Int) {
        loop.execute { [self] in
            publisherSession = session
            publisherSessions += 1
            if publisherSessions > 1 { feed.sessionStarted() }
        }
    }

    /// The broadcast ended: what is queued goes out, then FCUnpublish, deleteStream and close.
    func end() {
        loop.execute { [self] in
            guard let idle = connection.broadcastEnded() else { return }
            timer?.cancel()
            stallTimer?.cancel()
            currentHandler = nil
            if let channel, var session, session.isPublishing {
                drain(all: true)
                channel.writeAndFlush(session.unpublish()).whenComplete { _ in channel.close(promise: nil) }
                // A target that stopped reading never completes that write: it is closed anyway.
                loop.scheduleTask(in: .seconds(5)) { channel.close(promise: nil) }
            } else {
                channel?.close(promise: nil)
            }
            channel = nil
            session = nil
            feed.disconnected()
            report(target, liveStreamID, idle)
            logger.info("simulcast target stopped: the broadcast ended")
        }
    }

    // MARK: The connection (on `loop`)

    private func connect() {
        guard !connection.isEnded else { return }
        let session = RTMPClientSession(app: url.app, tcUrl: url.tcUrl, streamName: url.streamName)
        self.session = session
        let handler = SimulcastChannelHandler(pusher: self)
        currentHandler = handler
        let tls = tls
        let hostname = url.host
        let bootstrap = ClientBootstrap(group: loop)
            .connectTimeout(settings.connectTimeout)
            .channelOption(.tcpOption(.tcp_nodelay), value: 1)
            .channelOption(.writeBufferWaterMark, value: .init(low: 64 * 1024, high: 256 * 1024))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let tls {
                        let isAddress = (try? SocketAddress(ipAddress: hostname, port: 0)) != nil
                        try channel.pipeline.syncOperations.addHandler(
                            try NIOSSLClientHandler(context: tls, serverHostname: isAddress ? nil : hostname))
                    }
                    try channel.pipeline.syncOperations.addHandler(handler)
                }
            }
        timer = loop.scheduleTask(in: settings.connectTimeout) { [self] in
            guard handler === currentHandler, !(self.session?.isPublishing ?? false) else { return }
            failed("no NetStream.Publish.Start within \(settings.connectTimeout.nanoseconds / 1_000_000_000) s", fatal: false)
        }
        bootstrap.connect(host: url.host, port: url.port).hop(to: loop).whenComplete { [self] result in
            switch result {
            case .success(let channel):
                guard !connection.isEnded, handler.isCurrent(of: self) else { channel.close(promise: nil); return }
                self.channel = channel
            case .failure(let error):
                guard handler.isCurrent(of: self) else { return }
                failed("cannot connect: \(error)", fatal: false)
            }
        }
    }

    /// The handler of the connection being made or in use (a late callback of an older one is ignored).
    private(set) var currentHandler: SimulcastChannelHandler?

    fileprivate func active(_ handler: SimulcastChannelHandler, _ context: ChannelHandlerContext) {
        guard handler === currentHandler, var session else { return }
        context.writeAndFlush(NIOAny(session.start()), promise: nil)
        self.session = session
    }

    fileprivate func received(_ handler: SimulcastChannelHandler, _ bytes: inout ByteBuffer, _ context: ChannelHandlerContext) {
        guard handler === currentHandler, var session else { return }
        let actions: [RTMPClientAction]
        do {
            actions = try session.receive(&bytes)
        } catch {
            self.session = session
            failed("the target sent what RTMP does not allow: \(error)", fatal: false)
            return
        }
        self.session = session
        for action in actions {
            switch action {
            case .send(let out):
                context.write(NIOAny(out), promise: nil)
            case .publishing:
                timer?.cancel()
                feed.connected()
                if let status = connection.publishing(at: .now) { report(target, liveStreamID, status) }
                Self.connects.increment()
                logger.info("simulcast target broadcasting", metadata: ["tls": "\(url.tls)"])
            case .refused(let code, let description, let credentials):
                context.flush()
                failed("the target refused: \(code) \(description)", fatal: credentials)
                return
            }
        }
        context.flush()
        drain()
    }

    fileprivate func inactive(_ handler: SimulcastChannelHandler) {
        guard handler === currentHandler else { return }
        failed("the target closed the connection", fatal: false)
    }

    fileprivate func caught(_ handler: SimulcastChannelHandler, _ error: any Error) {
        guard handler === currentHandler else { return }
        failed("connection error: \(error)", fatal: false)
    }

    fileprivate func writable(_ handler: SimulcastChannelHandler, _ isWritable: Bool) {
        guard handler === currentHandler else { return }
        if isWritable {
            stallTimer?.cancel()
            stallTimer = nil
            drain()
        } else if stallTimer == nil {
            stallTimer = loop.scheduleTask(in: settings.stallTimeout) { [self] in
                stallTimer = nil
                guard handler === currentHandler, channel?.isWritable == false else { return }
                failed("the target took nothing for \(settings.stallTimeout.nanoseconds / 1_000_000_000) s", fatal: false)
            }
        }
    }

    /// A reason with the stream key and any URL query taken out (servers echo the stream name).
    private func redacted(_ text: String) -> String {
        var text = text
        let key = String(url.streamName.prefix { $0 != "?" })
        let query = url.app.firstIndex(of: "?").map { String(url.app[$0...]) } ?? ""
        for secret in [url.streamName, key, query] where secret.count > 1 {
            text = text.replacingOccurrences(of: secret, with: "[redacted]")
        }
        return text
    }

    /// Drops the connection and schedules the next attempt.
    private func failed(_ reason: String, fatal: Bool) {
        currentHandler = nil
        timer?.cancel()
        stallTimer?.cancel()
        stallTimer = nil
        channel?.close(promise: nil)
        channel = nil
        session = nil
        feed.disconnected()
        let (status, retry) = connection.failed(at: .now, fatal: fatal)
        guard let retry else { return }
        if let status { report(target, liveStreamID, status) }
        Self.failures.increment()
        logger.warning("simulcast target failed; connecting again", metadata: [
            "reason": "\(redacted(reason))", "severity": "\(fatal ? "fatal" : "normal")", "retry_in": "\(retry)"])
        let delay = TimeAmount.nanoseconds(Int64(retry.components.seconds) * 1_000_000_000 + retry.components.attoseconds / 1_000_000_000)
        timer = loop.scheduleTask(in: delay) { [self] in connect() }
    }

    /// Writes queued messages while the socket takes more (all of them at the end).
    private func drain(all: Bool = false) {
        guard let channel, let session, session.isPublishing else { return }
        var out = ByteBuffer()
        while all || channel.isWritable, let message = feed.next() {
            session.media(message, into: &out)
            if out.readableBytes >= 64 * 1024 {
                // Flushed per batch: TLS holds writes until a flush, so writability says nothing before it.
                Self.sentBytes.increment(by: out.readableBytes)
                channel.writeAndFlush(out, promise: nil)
                out = ByteBuffer()
            }
        }
        if out.readableBytes > 0 {
            Self.sentBytes.increment(by: out.readableBytes)
            channel.writeAndFlush(out, promise: nil)
        }
    }

    static let overflows = Counter(label: "onair_simulcast_overflows_total")
    static let droppedBytes = Counter(label: "onair_simulcast_dropped_bytes_total")
    static let sentBytes = Counter(label: "onair_simulcast_sent_bytes_total")
    static let connects = Counter(label: "onair_simulcast_connects_total")
    static let failures = Counter(label: "onair_simulcast_failures_total")
}

/// The pipeline end of a pusher's connection: hands everything to the pusher, on its loop.
final class SimulcastChannelHandler: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = ByteBuffer
    private weak var pusher: SimulcastPusher?

    init(pusher: SimulcastPusher) { self.pusher = pusher }

    func isCurrent(of pusher: SimulcastPusher) -> Bool { pusher.currentHandler === self }

    func channelActive(context: ChannelHandlerContext) {
        pusher?.active(self, context)
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var bytes = unwrapInboundIn(data)
        pusher?.received(self, &bytes, context)
    }

    func channelInactive(context: ChannelHandlerContext) {
        pusher?.inactive(self)
        context.fireChannelInactive()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        pusher?.writable(self, context.channel.isWritable)
        context.fireChannelWritabilityChanged()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        pusher?.caught(self, error)
        context.close(promise: nil)
    }
}
