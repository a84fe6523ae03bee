import Media
import Synchronization

/// A broadcast's output when its stream has simulcast targets: the packager first (playback and
/// recording), then one ``SimulcastPusher`` per target. Only the current publisher session's media is
/// passed on, as the packager does, so a publisher that was taken over cannot interleave with its
/// successor at a target either.
final class SimulcastOutput: StreamOutput {
    private let primary: any StreamOutput
    private let pushers: [SimulcastPusher]
    /// The current session, and whether there was one before it.
    private let sessions = Mutex<(current: Int?, count: Int)>((nil, 0))
    private let current = Atomic<Int>(Int.min)

    init(primary: any StreamOutput, pushers: [SimulcastPusher]) {
        self.primary = primary
        self.pushers = pushers
        for pusher in pushers { pusher.start() }
    }

    var assetID: String? { primary.assetID }

    func sessionStarted(_ session: Int) {
        primary.sessionStarted(session)
        let reconnect = sessions.withLock { state -> Bool in
            state.current = session
            state.count += 1
            return state.count > 1
        }
        current.store(session, ordering: .releasing)
        if reconnect { for pusher in pushers { pusher.sessionStarted() } }
    }

    func tracks(video: MediaTrack?, audio: MediaTrack?, session: Int) {
        primary.tracks(video: video, audio: audio, session: session)
        guard session == current.load(ordering: .acquiring) else { return }
        for pusher in pushers { pusher.tracks(video: video, audio: audio) }
    }

    func append(_ sample: MediaSample, session: Int) {
        primary.append(sample, session: session)
        guard session == current.load(ordering: .acquiring) else { return }
        for pusher in pushers { pusher.append(sample) }
    }

    func sessionEnded(_ session: Int) {
        primary.sessionEnded(session)
    }

    func broadcastEnded() {
        primary.broadcastEnded()
        current.store(Int.min, ordering: .releasing)
        for pusher in pushers { pusher.end() }
    }
}
