import Media
import Synchronization

/// A broadcast's output when its stream has simulcast targets: the packager first (playback and
/// recording), then one ``SimulcastPusher`` per target. Only the current publisher session's media is
/// passed on, as the packager does, so a publisher that was taken over cannot interleave with its
/// successor at a target either: checked here, and again on each pusher's loop (a sample of the old
/// session already on its way there is dropped).
final class SimulcastOutput: StreamOutput {
    private let primary: any StreamOutput
    private let pushers: [SimulcastPusher]
    private let current = Atomic<Int>(Int.min)

    init(primary: any StreamOutput, pushers: [SimulcastPusher]) {
        self.primary = primary
        self.pushers = pushers
        for pusher in pushers { pusher.start() }
    }

    var assetID: String? { primary.assetID }

    func sessionStarted(_ session: Int) {
        primary.sessionStarted(session)
        current.store(session, ordering: .releasing)
        for pusher in pushers { pusher.sessionStarted(session) }
    }

    func tracks(video: MediaTrack?, audio: MediaTrack?, session: Int) {
        primary.tracks(video: video, audio: audio, session: session)
        guard session == current.load(ordering: .acquiring) else { return }
        for pusher in pushers { pusher.tracks(video: video, audio: audio, session: session) }
    }

    func append(_ sample: MediaSample, session: Int) {
        primary.append(sample, session: session)
        guard session == current.load(ordering: .acquiring) else { return }
        for pusher in pushers { pusher.append(sample, session: session) }
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
