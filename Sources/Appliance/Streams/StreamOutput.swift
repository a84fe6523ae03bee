import Media

/// Where one live stream's media goes: the HLS packager implements it (Packaging -> Streams).
///
/// `tracks` and `append` come from the publisher's event loop; `sessionStarted`, `sessionEnded` and
/// `broadcastEnded` from the hub (on NIO's thread pool). `session` numbers rise with every publisher that
/// takes the stream; an output ignores calls from a session that is no longer current, so a
/// publisher that was taken over cannot interleave with its successor.
protocol StreamOutput: AnyObject, Sendable {
    /// A publisher started (first or reconnect); the next segment after a reconnect is a discontinuity.
    func sessionStarted(_ session: Int)
    /// The track set is known or changed.
    func tracks(video: MediaTrack?, audio: MediaTrack?, session: Int)
    /// One access unit.
    func append(_ sample: MediaSample, session: Int)
    /// The publisher is gone; flush what is buffered. The broadcast may still continue.
    func sessionEnded(_ session: Int)
    /// The reconnect window ran out (or the broadcast was ended): the playlist is final.
    func broadcastEnded()
    /// The asset recording this broadcast (Mux `active_asset_id`); nil when it is not recorded.
    var assetID: String? { get }
}

/// Makes the output of a new broadcast (the packager factory implements it).
protocol StreamOutputFactory: Sendable {
    /// `onPlayable` is called once, when the playlist first has what a player needs. Prepares the
    /// stream's directory and starts its recording (file and database work, off the concurrency pool).
    func makeOutput(for stream: LiveStream, onPlayable: @escaping @Sendable () -> Void) async -> any StreamOutput
    /// Removes a deleted stream's files.
    func removeFiles(of liveStreamID: String)
}

/// The live streams as the hub needs them (LiveStreamStore conforms, in App).
protocol StreamDirectory: Sendable {
    /// Opens the database (the hub's first step).
    func prepare() async throws
    func liveStream(streamKey: String) async throws -> LiveStream?
    /// Records a status change (and the active asset, when there is one); the stream as it is now (nil when it is gone).
    func setStatus(id: String, _ status: LiveStream.Status, ingestProtocol: String?, activeAssetID: String?) async throws -> LiveStream?
    /// The streams whose status is active (at start-up no publisher is connected: they become idle).
    func activeStreams() async throws -> [LiveStream]
    /// The change feed (changes the CLI made, for the running server to act on).
    func changes(after sequence: Int64, limit: Int) async throws -> [LiveStreamChange]
    func latestChangeSequence() async throws -> Int64
}

/// A connected publisher as the hub sees it (the RTMP connection handler implements it).
protocol Publisher: AnyObject, Sendable {
    /// Uptime nanoseconds of the last bytes received from the publisher.
    var lastActivityNanoseconds: UInt64 { get }
    /// Ends the connection, e.g. when another publisher takes over or the stream is deleted.
    func disconnect(reason: String)
}
