import NIOCore

/// What one relay target (a simulcast destination) is sent, decided as a pure state machine: the
/// broadcast's tracks and samples in, RTMP media messages out through a bounded queue that the owner
/// drains while its socket takes more.
///
/// - A target starts, and after every (re)connection resumes, at a video keyframe (any audio frame
///   for audio-only broadcasts), preceded by `onMetaData` and the sequence headers. While it is not
///   connected the feed keeps the current GOP (from the newest keyframe, within the queue's bound),
///   so a target that connects after the broadcast began starts at the keyframe before, not the next.
/// - Timestamps are the broadcast's own, in milliseconds (no re-encode, no re-timing). After the
///   publisher reconnects, the new session's timestamps (usually from 0 again) are moved to carry on
///   `resumeGap` after the last one sent, so the target sees one continuous stream.
/// - When what is queued passes `maximumQueuedBytes` (the target is slower than the broadcast, or
///   stalled) as another sample arrives, everything queued is dropped and the feed waits for the next
///   keyframe (that sample, if it is one): the target loses a stretch, the broadcast and every other
///   target never wait. ``sample(_:)`` says so. Audio from before the keyframe a target resumed at is
///   skipped, so no track's timestamps go back.
/// - A track change (new sequence header) is queued in order with the samples.
public struct RelayFeed: Sendable {
    /// Bounds and gaps.
    public struct Settings: Sendable, Equatable {
        /// Most bytes of messages queued for the socket (payload plus 16 per message).
        public var maximumQueuedBytes: Int
        /// Milliseconds between the last message of one publisher session and the first of the next.
        public var resumeGap: Int64

        /// 4 MiB (8 s at 4 Mbit/s) and 100 ms by default.
        public init(maximumQueuedBytes: Int = 4 * 1024 * 1024, resumeGap: Int64 = 100) {
            self.maximumQueuedBytes = max(maximumQueuedBytes, 1)
            self.resumeGap = max(resumeGap, 1)
        }
    }

    /// A queue overflow: what was dropped.
    public struct Overflow: Sendable, Equatable {
        /// Messages dropped from the queue.
        public var messages: Int
        /// Their bytes (as counted against the bound).
        public var bytes: Int
    }

    /// The bounds.
    public let settings: Settings
    private var video: MediaTrack?
    private var audio: MediaTrack?
    private var isConnected = false
    private var waitingForKeyframe = true
    private var queue = CircularBuffer<RTMPMessage>()
    /// Bytes queued now (as counted against the bound).
    public private(set) var queuedBytes = 0
    private var offset: Int64 = 0
    private var rebase = false
    private var lastTimestamp: Int64?
    /// The decode time (ms, before the offset) of the keyframe the feed last resumed at.
    private var resumedAt: Int64 = .min
    /// While not connected: the samples from the newest keyframe on, and their bytes.
    private var gop: [MediaSample] = []
    private var gopBytes = 0

    /// A feed for one target, not yet connected.
    public init(settings: Settings = .init()) {
        self.settings = settings
    }

    /// Messages queued now.
    public var queuedMessages: Int { queue.count }

    /// Whether the feed waits for a keyframe before it sends media again.
    public var isWaitingForKeyframe: Bool { waitingForKeyframe }

    /// The broadcast's tracks from now on (announced or changed). While media flows, the new sequence
    /// headers are queued at once.
    public mutating func tracks(video: MediaTrack?, audio: MediaTrack?) {
        let changed = (video != self.video, audio != self.audio)
        let videoAppeared = self.video == nil && video != nil
        self.video = video
        self.audio = audio
        // A video track that appears late must start at its first keyframe, with the headers again.
        if videoAppeared { waitingForKeyframe = true }
        guard isConnected, !waitingForKeyframe, let lastTimestamp else { return }
        if changed.0, let video { enqueue(.video, timestamp: lastTimestamp, FLVTagWriter.sequenceHeader(video)) }
        if changed.1, let audio { enqueue(.audio, timestamp: lastTimestamp, FLVTagWriter.sequenceHeader(audio)) }
    }

    /// A new publisher session of the same broadcast began (a reconnect): wait for its first keyframe
    /// and move its timestamps on from the last ones sent.
    public mutating func sessionStarted() {
        waitingForKeyframe = true
        gop.removeAll()
        gopBytes = 0
        if lastTimestamp != nil { rebase = true }
    }

    /// The target accepted the publish: media flows from the kept GOP's keyframe, or the next one.
    public mutating func connected() {
        isConnected = true
        waitingForKeyframe = true
        clear()
        let kept = gop
        gop.removeAll()
        gopBytes = 0
        for sample in kept { _ = self.sample(sample) }
    }

    /// The target's connection is gone: nothing is queued until it is back.
    public mutating func disconnected() {
        isConnected = false
        waitingForKeyframe = true
        clear()
        gop.removeAll()
        gopBytes = 0
    }

    /// Queues one access unit (or skips it while waiting for a keyframe or not connected). Returns
    /// what an overflow dropped, when this sample made the queue overflow.
    public mutating func sample(_ sample: MediaSample) -> Overflow? {
        let resumes = sample.isKeyframe && (sample.kind == .video || video == nil)
        guard isConnected else {
            keep(sample, startsGOP: resumes)
            return nil
        }
        // What waited before this sample decides (a single message larger than the bound, a big
        // keyframe, still goes when the socket keeps up); a keyframe that arrives then starts again at once.
        var dropped: Overflow?
        if queuedBytes > settings.maximumQueuedBytes {
            dropped = Overflow(messages: queue.count, bytes: queuedBytes)
            clear()
            waitingForKeyframe = true
        }
        let dts = MediaTime.milliseconds(ticks: sample.dts)
        if waitingForKeyframe {
            guard resumes else { return dropped }
            waitingForKeyframe = false
            resumedAt = dts
            if rebase, let lastTimestamp {
                offset = lastTimestamp + settings.resumeGap - dts
                rebase = false
            }
            let at = max(0, dts + offset)
            enqueue(.amf0Data, timestamp: at, FLVTagWriter.metadata(video: video, audio: audio))
            if let video { enqueue(.video, timestamp: at, FLVTagWriter.sequenceHeader(video)) }
            if let audio { enqueue(.audio, timestamp: at, FLVTagWriter.sequenceHeader(audio)) }
        } else if sample.kind == .audio, dts < resumedAt {
            return dropped  // audio from before the keyframe resumed at: its timestamp would go back
        }
        let timestamp = max(0, dts + offset)
        enqueue(sample.kind == .video ? .video : .audio, timestamp: timestamp, FLVTagWriter.body(sample))
        lastTimestamp = max(lastTimestamp ?? timestamp, timestamp)
        return dropped
    }

    /// The next message to write, oldest first.
    public mutating func next() -> RTMPMessage? {
        guard let message = queue.popFirst() else { return nil }
        queuedBytes -= Self.cost(message)
        return message
    }

    /// Keeps the current GOP while the target is away (nothing when it outgrows half the bound).
    private mutating func keep(_ sample: MediaSample, startsGOP: Bool) {
        if startsGOP {
            gop.removeAll(keepingCapacity: true)
            gopBytes = 0
        } else if gop.isEmpty {
            return
        }
        gop.append(sample)
        gopBytes += sample.payload.readableBytes + 16
        if gopBytes > settings.maximumQueuedBytes / 2 {  // half: what is sent after it must fit too
            gop.removeAll()
            gopBytes = 0
        }
    }

    private mutating func enqueue(_ type: RTMPMessageType, timestamp: Int64, _ body: ByteBuffer) {
        let message = RTMPMessage(type: type, timestamp: UInt32(truncatingIfNeeded: timestamp), payload: body)
        queue.append(message)
        queuedBytes += Self.cost(message)
    }

    private mutating func clear() {
        queue.removeAll(keepingCapacity: true)
        queuedBytes = 0
    }

    private static func cost(_ message: RTMPMessage) -> Int { message.payload.readableBytes + 16 }
}
