import Foundation
import Logging
import NIOCore
import NIOPosix

/// The hub's state and the carrying out of its lifecycles' actions: owned by ``StreamHub``'s run
/// loop, which alone calls it (one input at a time), so it needs no lock.
final class HubState {
    final class Entry {
        var lifecycle: BroadcastLifecycle
        var stream: LiveStream
        var output: (any StreamOutput)?
        var generation = 0
        var timers: [LifecycleTimer: ContinuousClock.Instant] = [:]
        init(lifecycle: BroadcastLifecycle, stream: LiveStream) {
            self.lifecycle = lifecycle
            self.stream = stream
        }
    }

    let hub: StreamHub
    let directory: any StreamDirectory
    let outputs: any StreamOutputFactory
    let journal: (any EventJournal)?
    let settings: HubSettings
    let logger: Logger
    var entries: [String: Entry] = [:]
    /// Connected publishers by session, and the stream each one publishes.
    var publishers: [Int: (stream: String, publisher: any Publisher)] = [:]
    var eventSequence: UInt64 = 0
    /// The last event handed to the subscribers.
    var publishedSequence: UInt64 = 0
    var generations = 0
    var ticks = 0
    var cursor: Int64 = 0
    var feedFailing = false
    /// Events emitted and not yet recorded in the journal, oldest first, and the status writes that go with them.
    var unrecorded: [LifecycleEvent] = []
    var unwrittenStatuses: [StatusChange] = []
    /// The cursor the journal holds.
    var recordedCursor: Int64 = 0
    var journalFailing = false
    /// Unrecorded events kept while the journal fails; older ones are lost (and counted).
    static let unrecordedLimit = 10_000
    /// The shutdown input was handled (every broadcast ended).
    var shutDown = false

    init(hub: StreamHub, directory: any StreamDirectory, outputs: any StreamOutputFactory, journal: (any EventJournal)?,
         settings: HubSettings, logger: Logger) {
        self.hub = hub
        self.directory = directory
        self.outputs = outputs
        self.journal = journal
        self.settings = settings
        self.logger = logger
    }

    /// Opens the database; streams left active by a process that died become idle (and say so, the
    /// status and its event in one record); the
    /// change feed is read on from the journal's cursor, so changes made while no server ran (the
    /// CLI's) and changes whose events a kill -9 cut off are carried out now.
    func start() async throws {
        try await directory.prepare()
        if let recorded = try await journal?.recordedCursor() {
            cursor = recorded
        } else {
            cursor = try await directory.latestChangeSequence()
        }
        recordedCursor = cursor
        for var stream in try await directory.activeStreams() {
            logger.notice("live stream was active when the last run ended: now idle", metadata: ["live_stream_id": "\(stream.id)"])
            stream.status = .idle
            stream.activeIngestProtocol = nil
            unwrittenStatuses.append(StatusChange(liveStreamID: stream.id, status: .idle, ingestProtocol: nil))
            emit(.idle, stream)
        }
        await recordEvents()
    }

    func handle(_ input: StreamHub.Input) async {
        let now = ContinuousClock.now
        switch input {
        case .publish(let request):
            await publish(request, now: now)
        case .firstMedia(let session):
            guard let id = publishers[session]?.stream else { return }
            await run(.firstMedia(session: session), on: id, now: now)
        case .publisherGone(let session):
            guard let id = publishers.removeValue(forKey: session)?.stream else { return }
            await run(.publisherGone(session: session), on: id, now: now)
        case .playable(let id, let broadcast):
            guard entries[id]?.generation == broadcast else { return }
            await run(.playable, on: id, now: now)
        case .change(let sequence, let done):
            // Through the feed, in its order, up to this change: carried out once, whichever path comes first.
            await readChangeFeed(upTo: sequence, now: now)
            done?()
        case .ping(let answer):
            answer()
        case .tick:
            await fireTimers(now: now)
            ticks += 1
            if ticks % settings.changeFeedEvery == 0 { await readChangeFeed(now: now) }
        case .shutdown:
            guard !shutDown else { break }
            shutDown = true
            for id in entries.keys { await run(.shutdown, on: id, now: now) }
        }
        await recordEvents()
        hub.published(entries.values.filter { $0.lifecycle.session != nil }.count)
    }

    private func publish(_ request: PublishRequest, now: ContinuousClock.Instant) async {
        let stream: LiveStream?
        do {
            stream = try await directory.liveStream(streamKey: request.streamKey)
        } catch {
            logger.error("publish refused: stream lookup failed", metadata: ["error": "\(error)"])
            return request.reply(.refused(.unavailable))
        }
        guard let stream else { return request.reply(.refused(.unknownKey)) }
        let entry = self.entry(for: stream)
        entry.stream.streamKey = stream.streamKey
        let silence = entry.lifecycle.session.map { session -> Duration in
            // A session whose connection is already gone has been silent for ever.
            guard let current = publishers[session] else { return .seconds(Int64(Int32.max)) }
            return .nanoseconds(Int64(bitPattern: NIODeadline.now().uptimeNanoseconds &- current.publisher.lastActivityNanoseconds))
        }
        let slots = entries.values.filter { $0.lifecycle.holdsSlot }.count
        let event = BroadcastLifecycle.Event.publishRequested(
            session: request.session, settings: broadcastSettings(stream), disabled: stream.status == .disabled,
            slotAvailable: slots < settings.maxPublishers, publisherSilence: silence)
        publishers[request.session] = (stream.id, request.publisher)
        await run(event, on: stream.id, now: now, request: request)
    }

    private func apply(_ change: LiveStreamChange, now: ContinuousClock.Instant) async {
        let entry = self.entry(for: change.stream)
        var stream = change.stream
        if entry.lifecycle.holdsSlot, change.kind != .disabled, change.kind != .enabled {
            // The hub's own status writes may be newer than the snapshot.
            stream.status = entry.stream.status
            stream.activeIngestProtocol = entry.stream.activeIngestProtocol
            stream.activeAssetID = entry.stream.activeAssetID
            stream.recentAssetIDs = entry.stream.recentAssetIDs
        }
        if !entry.lifecycle.holdsSlot, stream.status == .active {
            // Only a broadcast makes a stream active: a snapshot that says so is older than its end
            // (a change replayed after a restart, whose stream was reset to idle).
            stream.status = .idle
            stream.activeIngestProtocol = nil
        }
        entry.stream = stream
        let event: BroadcastLifecycle.Event = switch change.kind {
        case .created: .created
        case .updated: .updated
        case .deleted: .delete
        case .disabled: .disable
        case .enabled: .enable
        case .streamKeyReset: .streamKeyReset
        case .completed: .complete
        }
        await run(event, on: change.stream.id, now: now)
    }

    /// Carries out the feed's changes after the cursor, in order: all of them, or those up to `sequence`
    /// (an API change, which must be done before the API answers). The cursor is the one record of what
    /// was carried out, so no change is carried out twice.
    private func readChangeFeed(upTo sequence: Int64 = .max, now: ContinuousClock.Instant) async {
        let page = 100
        do {
            while cursor < sequence {
                let changes = try await directory.changes(after: cursor, limit: page)
                if let first = changes.first, first.sequence > cursor + 1, cursor > 0 {
                    logger.error("change feed entries were pruned before they were carried out; their events are lost", metadata: [
                        "from": "\(cursor + 1)", "to": "\(first.sequence - 1)"])
                }
                for change in changes where change.sequence <= sequence {
                    cursor = change.sequence
                    logger.info("live stream change", metadata: ["live_stream_id": "\(change.stream.id)", "change": "\(change.kind.rawValue)"])
                    await apply(change, now: now)
                    await recordEvents()  // with the cursor past this change, in one transaction
                }
                if changes.count < page || changes.contains(where: { $0.sequence > sequence }) { break }
            }
            if feedFailing { logger.notice("change feed readable again") }
            feedFailing = false
        } catch {
            if !feedFailing { logger.error("cannot read the change feed", metadata: ["error": "\(error)"]) }
            feedFailing = true
        }
    }

    private func fireTimers(now: ContinuousClock.Instant) async {
        for (id, entry) in entries {
            for (timer, deadline) in entry.timers where deadline <= now {
                entry.timers[timer] = nil
                await run(.timerFired(timer), on: id, now: now)
            }
        }
    }

    private func entry(for stream: LiveStream) -> Entry {
        if let entry = entries[stream.id] { return entry }
        let entry = Entry(lifecycle: BroadcastLifecycle(settings: broadcastSettings(stream), takeoverAfter: settings.takeoverAfter),
                          stream: stream)
        entries[stream.id] = entry
        return entry
    }

    private func broadcastSettings(_ stream: LiveStream) -> BroadcastLifecycle.Settings {
        .init(reconnectWindow: .milliseconds(Int64(stream.reconnectWindow * 1000)),
              maxContinuousDuration: min(.seconds(stream.maxContinuousDuration), settings.maxContinuousDuration))
    }

    /// Feeds `event` to the stream's lifecycle and carries out its actions in order.
    private func run(_ event: BroadcastLifecycle.Event, on id: String, now: ContinuousClock.Instant, request: PublishRequest? = nil) async {
        guard let entry = entries[id] else { return }
        for action in entry.lifecycle.handle(event, now: now) {
            await perform(action, entry, request: request)
        }
        if entry.lifecycle.phase == .idle, entry.timers.isEmpty, entry.output == nil { entries[id] = nil }
    }

    private func emit(_ type: LifecycleEventType, _ stream: LiveStream) {
        eventSequence += 1
        unrecorded.append(LifecycleEvent(sequence: eventSequence, type: type, stream: stream, at: Date()))
    }

    /// Records the events emitted since the last call, with their status writes and the cursor, then
    /// hands them to the subscribers. When the journal fails they are kept (up to ``unrecordedLimit``
    /// events) and go with the next record; the subscribers get them at once all the same.
    func recordEvents() async {
        guard !unrecorded.isEmpty || !unwrittenStatuses.isEmpty || cursor != recordedCursor else { return }
        let fresh = unrecorded.filter { $0.sequence > publishedSequence }
        if let journal {
            do {
                try await journal.record(unrecorded, statuses: unwrittenStatuses, cursor: cursor)
                if journalFailing { logger.notice("event journal writable again", metadata: ["events": "\(unrecorded.count)"]) }
                journalFailing = false
                unrecorded.removeAll()
                unwrittenStatuses.removeAll()
                recordedCursor = cursor
            } catch {
                if !journalFailing { logger.error("cannot record lifecycle events; keeping them to retry", metadata: ["error": "\(error)"]) }
                journalFailing = true
                if unrecorded.count > Self.unrecordedLimit {
                    let lost = unrecorded.count - Self.unrecordedLimit
                    unrecorded.removeFirst(lost)
                    hub.events.lost(lost, subscriber: "journal")
                }
            }
        } else {
            for change in unwrittenStatuses {
                do {
                    _ = try await directory.setStatus(id: change.liveStreamID, change.status, ingestProtocol: change.ingestProtocol,
                                                      activeAssetID: change.activeAssetID)
                } catch {
                    logger.error("status update failed", metadata: [
                        "live_stream_id": "\(change.liveStreamID)", "status": "\(change.status.rawValue)", "error": "\(error)"])
                }
            }
            unrecorded.removeAll()
            unwrittenStatuses.removeAll()
            recordedCursor = cursor
        }
        for event in fresh { hub.events.publish(event) }
        publishedSequence = fresh.last?.sequence ?? publishedSequence
    }

    private func perform(_ action: BroadcastLifecycle.Action, _ entry: Entry, request: PublishRequest?) async {
        let id = entry.stream.id
        switch action {
        case .startBroadcast:
            generations += 1
            let generation = generations
            entry.generation = generation
            let hub = self.hub
            let output = await outputs.makeOutput(for: entry.stream) { hub.send(.playable(liveStreamID: id, broadcast: generation)) }
            entry.output = output
            if let asset = output.assetID, asset != entry.stream.activeAssetID {
                // Recorded: the stream's new active asset, written with the `connected` event that follows.
                entry.stream.activeAssetID = asset
                entry.stream.recentAssetIDs = Array(((entry.stream.recentAssetIDs ?? []).filter { $0 != asset } + [asset])
                    .suffix(LiveStream.recentAssetLimit))
                unwrittenStatuses.append(StatusChange(liveStreamID: id, status: entry.stream.status,
                                                      ingestProtocol: entry.stream.activeIngestProtocol, activeAssetID: asset))
            }
        case .accept(let session):
            guard let output = entry.output else { return }
            await BlockingWork.run { output.sessionStarted(session) }  // may wait for a writer's file I/O
            logger.info("publish accepted", metadata: ["live_stream_id": "\(id)", "session": "\(session)"])
            request?.reply(.accepted(PublishGrant(liveStreamID: id, session: session, output: output)))
        case .refuse(let session, let reason):
            publishers[session] = nil
            if reason == .capacity {
                logger.warning("publish refused: max_publishers reached", metadata: [
                    "live_stream_id": "\(id)", "max_publishers": "\(settings.maxPublishers)"])
            } else {
                logger.notice("publish refused: \(reason.description)", metadata: ["live_stream_id": "\(id)"])
            }
            request?.reply(.refused(reason))
        case .disconnect(let session, let reason):
            if let current = publishers.removeValue(forKey: session) {
                logger.info("publisher disconnected", metadata: ["live_stream_id": "\(id)", "reason": "\(reason.rawValue)"])
                current.publisher.disconnect(reason: reason.rawValue)
            }
        case .endSession(let session):
            if let output = entry.output { await BlockingWork.run { output.sessionEnded(session) } }
        case .endPlaylist:
            if let output = entry.output { await BlockingWork.run { output.broadcastEnded() } }
            entry.output = nil
        case .removeFiles:
            outputs.removeFiles(of: id)
        case .setStatus(let status):
            if entry.stream.status != .disabled {
                entry.stream.status = status
                entry.stream.activeIngestProtocol = status == .active ? "rtmp" : nil
            }
            // Written with the event that follows, in the journal's transaction. (The active asset is
            // written once, when the broadcast starts: an asset deleted since stays unnamed.)
            unwrittenStatuses.append(StatusChange(liveStreamID: id, status: status, ingestProtocol: "rtmp"))
        case .emit(let type):
            emit(type, entry.stream)
        case .arm(let timer, let deadline):
            entry.timers[timer] = deadline
        case .cancel(let timer):
            entry.timers[timer] = nil
        }
    }
}
