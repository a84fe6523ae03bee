/// One live stream's broadcast lifecycle as a pure state machine: events and the time in, actions out.
/// No clocks, no I/O: ``StreamHub`` feeds it and carries out what it decides. Mux's sequence
/// (reference/mux-api.md §5.4): `connected` (publish accepted) -> `recording` (first frames; status
/// still idle) -> `active` (the playlist is playable; status active) -> `disconnected` (publisher gone;
/// status stays active for the reconnect window) -> `idle`. docs/architecture.md has the whole table.
struct BroadcastLifecycle: Sendable, Equatable {
    enum Phase: Sendable, Equatable {
        /// No broadcast.
        case idle
        /// A publisher was accepted; no media yet.
        case connected(session: Int)
        /// Media arrives; the playlist is not yet playable.
        case recording(session: Int)
        /// Media arrives and the playback URL answers 200.
        case active(session: Int)
        /// The publisher is gone; a reconnect within the window continues the broadcast.
        case disconnected
        /// `complete` ended the playlist; the publisher is dropped after ``completeGrace``.
        case completed(session: Int)
    }

    /// Per-broadcast limits, from the stream record at publish time.
    struct Settings: Sendable, Equatable {
        var reconnectWindow: Duration
        var maxContinuousDuration: Duration
    }

    enum Event: Sendable, Equatable {
        /// A publisher asks to publish. `publisherSilence`: how long the current publisher has sent
        /// nothing (nil without one); `slotAvailable`: the appliance may start one more broadcast.
        case publishRequested(session: Int, settings: Settings, disabled: Bool, slotAvailable: Bool, publisherSilence: Duration?)
        case firstMedia(session: Int)
        /// The playlist now has the segments a player needs.
        case playable
        case publisherGone(session: Int)
        case timerFired(LifecycleTimer)
        case created, updated, complete, disable, enable, delete, streamKeyReset, shutdown
    }

    enum Action: Sendable, Equatable {
        case accept(session: Int)
        case refuse(session: Int, PublishRefusal)
        case disconnect(session: Int, DisconnectReason)
        /// A new playlist (the packager of this broadcast).
        case startBroadcast
        /// The publisher is gone: flush its open segment; the playlist may continue.
        case endSession(session: Int)
        /// EXT-X-ENDLIST: the broadcast's playlist is final.
        case endPlaylist
        /// The stream is deleted: its HLS files go.
        case removeFiles
        case setStatus(LiveStream.Status)
        case emit(LifecycleEventType)
        case arm(LifecycleTimer, at: ContinuousClock.Instant)
        case cancel(LifecycleTimer)
    }

    /// Mux drops the encoder this long after `complete`, so one that reconnects by itself does not
    /// start a new broadcast at once.
    static let completeGrace = Duration.seconds(60)

    private(set) var phase: Phase = .idle
    /// The broadcast's playlist has been playable (it stays so across reconnects until the broadcast ends).
    private(set) var playable = false
    private(set) var settings: Settings
    /// A new publisher takes over from one that has been silent this long.
    let takeoverAfter: Duration

    init(settings: Settings, takeoverAfter: Duration) {
        self.settings = settings
        self.takeoverAfter = takeoverAfter
    }

    /// The connected publisher's session.
    var session: Int? {
        switch phase {
        case .connected(let session), .recording(let session), .active(let session), .completed(let session): session
        case .idle, .disconnected: nil
        }
    }

    /// Whether the stream takes one of the appliance's `max_publishers` slots (a reconnect keeps its slot).
    var holdsSlot: Bool { phase != .idle }

    mutating func handle(_ event: Event, now: ContinuousClock.Instant) -> [Action] {
        switch event {
        case .publishRequested(let session, let settings, let disabled, let slotAvailable, let silence):
            return publish(session, settings, disabled: disabled, slotAvailable: slotAvailable, silence: silence, now: now)
        case .firstMedia(let session):
            guard phase == .connected(session: session) else { return [] }
            if playable {
                // A reconnect (or a takeover) into a playlist that already plays.
                phase = .active(session: session)
                return [.emit(.recording), .setStatus(.active), .emit(.active)]
            }
            phase = .recording(session: session)
            return [.emit(.recording)]
        case .playable:
            guard !playable else { return [] }
            switch phase {
            case .recording(let session):
                playable = true
                phase = .active(session: session)
                return [.setStatus(.active), .emit(.active)]
            case .disconnected:
                // The publisher's last segment, flushed as it left, completed the playlist.
                playable = true
                return [.setStatus(.active), .emit(.active)]
            case .connected:
                // The previous publisher's flushed segment completed it after a takeover or a quick
                // reconnect: this publisher's first media makes the stream active.
                playable = true
                return []
            case .active, .idle, .completed:
                return []
            }
        case .publisherGone(let session):
            guard self.session == session else { return [] }
            if case .completed = phase {
                phase = .idle
                return [.cancel(.completeDrop)]
            }
            return publisherLeft(session, now: now)
        case .timerFired(.reconnectWindow):
            guard phase == .disconnected else { return [] }
            return endBroadcast()
        case .timerFired(.maxDuration):
            switch phase {
            case .connected(let session), .recording(let session), .active(let session):
                return [.disconnect(session: session, .maxDuration), .endSession(session: session), .emit(.disconnected)] + endBroadcast()
            case .disconnected:
                return endBroadcast()
            case .idle, .completed:
                return []
            }
        case .timerFired(.completeDrop):
            guard case .completed(let session) = phase else { return [] }
            phase = .idle
            return [.disconnect(session: session, .completed)]
        case .complete:
            switch phase {
            case .connected(let session), .recording(let session), .active(let session):
                let actions: [Action] = [.endSession(session: session)] + endBroadcast()
                phase = .completed(session: session)
                return actions + [.arm(.completeDrop, at: now + Self.completeGrace)]
            case .disconnected:
                return endBroadcast()
            case .idle, .completed:
                return []
            }
        case .disable:
            return stop(.disabled) + [.emit(.disabled)]
        case .delete:
            return stop(.deleted) + [.removeFiles, .emit(.deleted)]
        case .shutdown:
            return stop(.shutdown, setIdle: true)
        case .streamKeyReset:
            // The old key stops working: its publisher is disconnected and the reconnect window runs
            // (the encoder comes back with the new key).
            switch phase {
            case .connected(let session), .recording(let session), .active(let session):
                return [.emit(.updated), .disconnect(session: session, .streamKeyReset)] + publisherLeft(session, now: now)
            case .completed(let session):
                phase = .idle
                return [.emit(.updated), .cancel(.completeDrop), .disconnect(session: session, .streamKeyReset)]
            case .idle, .disconnected:
                return [.emit(.updated)]
            }
        case .created:
            return [.emit(.created)]
        case .updated:
            return [.emit(.updated)]
        case .enable:
            return [.emit(.enabled)]
        }
    }

    private mutating func publish(_ session: Int, _ settings: Settings, disabled: Bool, slotAvailable: Bool,
                                  silence: Duration?, now: ContinuousClock.Instant) -> [Action] {
        guard !disabled else { return [.refuse(session: session, .disabled)] }
        switch phase {
        case .idle:
            guard slotAvailable else { return [.refuse(session: session, .capacity)] }
            return begin(session, settings, now: now)
        case .disconnected:
            self.settings.reconnectWindow = settings.reconnectWindow
            phase = .connected(session: session)
            return [.cancel(.reconnectWindow), .accept(session: session), .emit(.connected)]
        case .connected(let current), .recording(let current), .active(let current):
            guard let silence, silence >= takeoverAfter else { return [.refuse(session: session, .alreadyPublishing)] }
            self.settings.reconnectWindow = settings.reconnectWindow
            phase = .connected(session: session)
            return [.endSession(session: current), .disconnect(session: current, .takenOver), .emit(.disconnected),
                    .accept(session: session), .emit(.connected)]
        case .completed(let current):
            guard let silence, silence >= takeoverAfter else { return [.refuse(session: session, .alreadyPublishing)] }
            return [.cancel(.completeDrop), .disconnect(session: current, .takenOver)] + begin(session, settings, now: now)
        }
    }

    /// The publisher is gone: its session ends; the broadcast waits for a reconnect, or ends at once
    /// with no reconnect window.
    private mutating func publisherLeft(_ session: Int, now: ContinuousClock.Instant) -> [Action] {
        let actions: [Action] = [.endSession(session: session), .emit(.disconnected)]
        guard settings.reconnectWindow > .zero else { return actions + endBroadcast() }
        phase = .disconnected
        return actions + [.arm(.reconnectWindow, at: now + settings.reconnectWindow)]
    }

    /// A new broadcast with `session` as its publisher.
    private mutating func begin(_ session: Int, _ settings: Settings, now: ContinuousClock.Instant) -> [Action] {
        self.settings = settings
        playable = false
        phase = .connected(session: session)
        return [.startBroadcast, .accept(session: session), .emit(.connected),
                .arm(.maxDuration, at: now + settings.maxContinuousDuration)]
    }

    /// The broadcast is over: final playlist, status idle.
    private mutating func endBroadcast() -> [Action] {
        let wasActive = playable
        phase = .idle
        playable = false
        return [.cancel(.maxDuration), .cancel(.reconnectWindow), .endPlaylist] + (wasActive ? [.setStatus(.idle)] : []) + [.emit(.idle)]
    }

    /// Ends everything at once (disable, delete, shutdown): the publisher is closed, the playlist final.
    private mutating func stop(_ reason: DisconnectReason, setIdle: Bool = false) -> [Action] {
        var actions: [Action] = []
        switch phase {
        case .idle:
            return []
        case .completed(let session):
            phase = .idle
            return [.cancel(.completeDrop), .disconnect(session: session, reason)]
        case .connected(let session), .recording(let session), .active(let session):
            actions = [.disconnect(session: session, reason), .endSession(session: session), .emit(.disconnected)]
        case .disconnected:
            break
        }
        let wasActive = playable
        phase = .idle
        playable = false
        actions += [.cancel(.maxDuration), .cancel(.reconnectWindow), .endPlaylist]
        if setIdle {
            actions += (wasActive ? [.setStatus(.idle)] : []) + [.emit(.idle)]
        }
        return actions
    }
}

/// The timers a broadcast arms; ``StreamHub`` owns them.
enum LifecycleTimer: Sendable, Hashable, CaseIterable {
    case reconnectWindow, maxDuration, completeDrop
}

/// Why a publish is refused; Ingest maps each to an RTMP NetStatus code.
enum PublishRefusal: Sendable, Equatable {
    case unknownKey, disabled, alreadyPublishing, capacity, unavailable

    var description: String {
        switch self {
        case .unknownKey: "unknown stream key"
        case .disabled: "live stream is disabled"
        case .alreadyPublishing: "stream is already being published"
        case .capacity: "the appliance is publishing its maximum number of streams"
        case .unavailable: "temporarily unavailable"
        }
    }
}

/// Why the hub ends a publisher's connection.
enum DisconnectReason: String, Sendable, Equatable {
    case takenOver = "taken over by a new publisher"
    case deleted = "live stream deleted"
    case disabled = "live stream disabled"
    case streamKeyReset = "stream key reset"
    case completed = "live stream completed"
    case maxDuration = "max_continuous_duration reached"
    case shutdown = "server shutting down"
}
