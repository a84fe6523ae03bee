import NIOCore
import Synchronization

/// The hub's view of one RTMP connection: when it last sent bytes, and a way to end it.
final class PublisherHandle: Publisher {
    private let channel: any Channel
    private let lastActivity = Atomic<UInt64>(NIODeadline.now().uptimeNanoseconds)

    init(channel: any Channel) { self.channel = channel }

    var lastActivityNanoseconds: UInt64 { lastActivity.load(ordering: .relaxed) }

    /// Records that bytes arrived now.
    func touch() { lastActivity.store(NIODeadline.now().uptimeNanoseconds, ordering: .relaxed) }

    func disconnect(reason: String) { channel.close(promise: nil) }
}
