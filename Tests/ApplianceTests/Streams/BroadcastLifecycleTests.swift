import Testing
@testable import Appliance

/// Every transition of the broadcast lifecycle, as a table: the events that lead there, the event
/// under test, the actions it must produce and the phase it must leave. Time is a test clock.
@Suite struct BroadcastLifecycleTests {
    typealias Event = BroadcastLifecycle.Event
    typealias Action = BroadcastLifecycle.Action

    static let t0 = ContinuousClock.now
    static func at(_ seconds: Int) -> ContinuousClock.Instant { t0 + .seconds(seconds) }
    static let settings = BroadcastLifecycle.Settings(reconnectWindow: .seconds(60), maxContinuousDuration: .seconds(3600))
    static let noWindow = BroadcastLifecycle.Settings(reconnectWindow: .zero, maxContinuousDuration: .seconds(3600))

    static func publish(_ session: Int, _ settings: BroadcastLifecycle.Settings = settings, disabled: Bool = false,
                        slot: Bool = true, silence: Duration? = nil) -> Event {
        .publishRequested(session: session, settings: settings, disabled: disabled, slotAvailable: slot, publisherSilence: silence)
    }

    struct Row: CustomTestStringConvertible, Sendable {
        var name: String
        var before: [Event]
        var event: Event
        var now = 10
        var actions: [Action]
        var phase: BroadcastLifecycle.Phase
        var testDescription: String { name }
    }

    static let connected: [Event] = [publish(1)]
    static let recording: [Event] = connected + [.firstMedia(session: 1)]
    static let active: [Event] = recording + [.playable]
    static let disconnected: [Event] = active + [.publisherGone(session: 1)]
    static let completed: [Event] = active + [.complete]
    static let endActive: [Action] = [.cancel(.maxDuration), .cancel(.reconnectWindow), .endPlaylist, .setStatus(.idle), .emit(.idle)]

    static let rows: [Row] = [
        // Publishing
        Row(name: "idle: publish accepted -> connected", before: [], event: publish(1),
            actions: [.startBroadcast, .accept(session: 1), .emit(.connected), .arm(.maxDuration, at: at(3610))], phase: .connected(session: 1)),
        Row(name: "idle: disabled stream refused", before: [], event: publish(1, disabled: true),
            actions: [.refuse(session: 1, .disabled)], phase: .idle),
        Row(name: "idle: no slot left refused", before: [], event: publish(1, slot: false),
            actions: [.refuse(session: 1, .capacity)], phase: .idle),
        Row(name: "connected: first media -> recording, status still idle", before: connected, event: .firstMedia(session: 1),
            actions: [.emit(.recording)], phase: .recording(session: 1)),
        Row(name: "connected: media of another session ignored", before: connected, event: .firstMedia(session: 2),
            actions: [], phase: .connected(session: 1)),
        Row(name: "recording: playable -> active", before: recording, event: .playable,
            actions: [.setStatus(.active), .emit(.active)], phase: .active(session: 1)),
        Row(name: "active: playable again is nothing new", before: active, event: .playable, actions: [], phase: .active(session: 1)),
        // A publisher that goes away
        Row(name: "active: publisher gone -> disconnected, window armed, status stays active", before: active,
            event: .publisherGone(session: 1),
            actions: [.endSession(session: 1), .emit(.disconnected), .arm(.reconnectWindow, at: at(70))], phase: .disconnected),
        Row(name: "recording: publisher gone with no window -> idle at once, never active", before: [publish(1, noWindow), .firstMedia(session: 1)],
            event: .publisherGone(session: 1),
            actions: [.endSession(session: 1), .emit(.disconnected), .cancel(.maxDuration), .cancel(.reconnectWindow), .endPlaylist, .emit(.idle)],
            phase: .idle),
        Row(name: "connected: gone right after connecting -> disconnected", before: connected, event: .publisherGone(session: 1),
            actions: [.endSession(session: 1), .emit(.disconnected), .arm(.reconnectWindow, at: at(70))], phase: .disconnected),
        Row(name: "active: a stale session's goodbye is ignored", before: active, event: .publisherGone(session: 7),
            actions: [], phase: .active(session: 1)),
        Row(name: "disconnected: reconnect continues the broadcast", before: disconnected, event: publish(2),
            actions: [.cancel(.reconnectWindow), .accept(session: 2), .emit(.connected)], phase: .connected(session: 2)),
        Row(name: "disconnected: reconnect fits even with no slot left", before: disconnected, event: publish(2, slot: false),
            actions: [.cancel(.reconnectWindow), .accept(session: 2), .emit(.connected)], phase: .connected(session: 2)),
        Row(name: "reconnected: first media of a playable broadcast -> active again", before: disconnected + [publish(2)],
            event: .firstMedia(session: 2), actions: [.emit(.recording), .setStatus(.active), .emit(.active)], phase: .active(session: 2)),
        Row(name: "connected after a takeover: the old publisher's flushed segment makes it playable, first media then active",
            before: recording + [publish(2, silence: .seconds(9)), .playable], event: .firstMedia(session: 2),
            actions: [.emit(.recording), .setStatus(.active), .emit(.active)], phase: .active(session: 2)),
        Row(name: "connected: playable before first media changes nothing yet", before: recording + [publish(2, silence: .seconds(9))],
            event: .playable, actions: [], phase: .connected(session: 2)),
        Row(name: "disconnected: window expired -> idle", before: disconnected, event: .timerFired(.reconnectWindow),
            actions: endActive, phase: .idle),
        Row(name: "disconnected: the last flushed segment makes it playable", before: recording + [.publisherGone(session: 1)],
            event: .playable, actions: [.setStatus(.active), .emit(.active)], phase: .disconnected),
        // Takeover
        Row(name: "active: a second publisher is refused while the first speaks", before: active, event: publish(2, silence: .seconds(1)),
            actions: [.refuse(session: 2, .alreadyPublishing)], phase: .active(session: 1)),
        Row(name: "active: a silent publisher is taken over", before: active, event: publish(2, silence: .seconds(5)),
            actions: [.endSession(session: 1), .disconnect(session: 1, .takenOver), .emit(.disconnected), .accept(session: 2), .emit(.connected)],
            phase: .connected(session: 2)),
        // Max duration
        Row(name: "active: max duration reached -> disconnected and idle (a reconnect is a new broadcast)", before: active,
            event: .timerFired(.maxDuration),
            actions: [.disconnect(session: 1, .maxDuration), .endSession(session: 1), .emit(.disconnected)] + endActive, phase: .idle),
        Row(name: "disconnected: max duration reached ends the broadcast", before: disconnected, event: .timerFired(.maxDuration),
            actions: endActive, phase: .idle),
        // Complete
        Row(name: "active: complete -> playlist ends now, idle, encoder dropped 60 s later", before: active, event: .complete,
            actions: [.endSession(session: 1)] + endActive + [.arm(.completeDrop, at: at(70))], phase: .completed(session: 1)),
        Row(name: "completed: the delayed drop disconnects the encoder", before: completed, event: .timerFired(.completeDrop),
            actions: [.disconnect(session: 1, .completed)], phase: .idle),
        Row(name: "completed: the encoder leaving first cancels the drop", before: completed, event: .publisherGone(session: 1),
            actions: [.cancel(.completeDrop)], phase: .idle),
        Row(name: "completed: its media starts nothing", before: completed, event: .playable, actions: [], phase: .completed(session: 1)),
        Row(name: "completed: a new publisher while the old one speaks is refused", before: completed, event: publish(2, silence: .zero),
            actions: [.refuse(session: 2, .alreadyPublishing)], phase: .completed(session: 1)),
        Row(name: "disconnected: complete ends at once", before: disconnected, event: .complete, actions: endActive, phase: .idle),
        Row(name: "idle: complete does nothing", before: [], event: .complete, actions: [], phase: .idle),
        // Disable, enable, delete, key reset, shutdown
        Row(name: "active: disable disconnects at once and ends the playlist", before: active, event: .disable,
            actions: [.disconnect(session: 1, .disabled), .endSession(session: 1), .emit(.disconnected),
                      .cancel(.maxDuration), .cancel(.reconnectWindow), .endPlaylist, .emit(.disabled)], phase: .idle),
        Row(name: "idle: disable only tells", before: [], event: .disable, actions: [.emit(.disabled)], phase: .idle),
        Row(name: "idle: enable only tells", before: [], event: .enable, actions: [.emit(.enabled)], phase: .idle),
        Row(name: "active: delete disconnects, ends and removes the files", before: active, event: .delete,
            actions: [.disconnect(session: 1, .deleted), .endSession(session: 1), .emit(.disconnected),
                      .cancel(.maxDuration), .cancel(.reconnectWindow), .endPlaylist, .removeFiles, .emit(.deleted)], phase: .idle),
        Row(name: "disconnected: delete ends the waiting broadcast", before: disconnected, event: .delete,
            actions: [.cancel(.maxDuration), .cancel(.reconnectWindow), .endPlaylist, .removeFiles, .emit(.deleted)], phase: .idle),
        Row(name: "idle: delete removes leftover files", before: [], event: .delete, actions: [.removeFiles, .emit(.deleted)], phase: .idle),
        Row(name: "active: stream key reset disconnects the publisher and its window runs", before: active, event: .streamKeyReset,
            actions: [.emit(.updated), .disconnect(session: 1, .streamKeyReset), .endSession(session: 1), .emit(.disconnected),
                      .arm(.reconnectWindow, at: at(70))], phase: .disconnected),
        Row(name: "recording: stream key reset with no window ends the broadcast", before: [publish(1, noWindow), .firstMedia(session: 1)],
            event: .streamKeyReset,
            actions: [.emit(.updated), .disconnect(session: 1, .streamKeyReset), .endSession(session: 1), .emit(.disconnected),
                      .cancel(.maxDuration), .cancel(.reconnectWindow), .endPlaylist, .emit(.idle)], phase: .idle),
        Row(name: "completed: stream key reset drops the lingering encoder", before: completed, event: .streamKeyReset,
            actions: [.emit(.updated), .cancel(.completeDrop), .disconnect(session: 1, .streamKeyReset)], phase: .idle),
        Row(name: "disconnected: the new key's publisher continues the broadcast", before: active + [.streamKeyReset], event: publish(2),
            actions: [.cancel(.reconnectWindow), .accept(session: 2), .emit(.connected)], phase: .connected(session: 2)),
        Row(name: "idle: stream key reset only tells", before: [], event: .streamKeyReset, actions: [.emit(.updated)], phase: .idle),
        Row(name: "active: shutdown ends everything, status idle", before: active, event: .shutdown,
            actions: [.disconnect(session: 1, .shutdown), .endSession(session: 1), .emit(.disconnected)] + endActive, phase: .idle),
        Row(name: "recording: shutdown of a never-active broadcast writes no status", before: recording, event: .shutdown,
            actions: [.disconnect(session: 1, .shutdown), .endSession(session: 1), .emit(.disconnected),
                      .cancel(.maxDuration), .cancel(.reconnectWindow), .endPlaylist, .emit(.idle)], phase: .idle),
        Row(name: "idle: created and updated only tell", before: [.created], event: .updated, actions: [.emit(.updated)], phase: .idle),
    ]

    @Test(arguments: rows)
    func transition(_ row: Row) {
        var lifecycle = BroadcastLifecycle(settings: Self.settings, takeoverAfter: .seconds(5))
        for event in row.before { _ = lifecycle.handle(event, now: Self.at(0)) }
        let actions = lifecycle.handle(row.event, now: Self.at(row.now))
        #expect(actions == row.actions)
        #expect(lifecycle.phase == row.phase)
    }

    @Test func aReconnectKeepsTheBroadcastsMaxDurationAndTakesTheNewWindow() {
        var lifecycle = BroadcastLifecycle(settings: Self.settings, takeoverAfter: .seconds(5))
        for event in Self.disconnected { _ = lifecycle.handle(event, now: Self.at(0)) }
        let shorter = BroadcastLifecycle.Settings(reconnectWindow: .seconds(5), maxContinuousDuration: .seconds(60))
        let actions = lifecycle.handle(Self.publish(2, shorter), now: Self.at(30))
        #expect(!actions.contains { if case .arm(.maxDuration, _) = $0 { true } else { false } })
        #expect(lifecycle.handle(.publisherGone(session: 2), now: Self.at(40)).last == .arm(.reconnectWindow, at: Self.at(45)))
    }

    @Test func aSlotIsHeldFromAcceptUntilTheBroadcastEnds() {
        var lifecycle = BroadcastLifecycle(settings: Self.settings, takeoverAfter: .seconds(5))
        #expect(!lifecycle.holdsSlot)
        for event in Self.disconnected {
            _ = lifecycle.handle(event, now: Self.at(0))
            #expect(lifecycle.holdsSlot)
        }
        _ = lifecycle.handle(.timerFired(.reconnectWindow), now: Self.at(60))
        #expect(!lifecycle.holdsSlot && lifecycle.session == nil)
    }
}
