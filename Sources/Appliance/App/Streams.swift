import ArgumentParser
import Foundation

/// `onair streams create|list|get|delete|reset-key|disable|enable|complete`: manage live streams in the
/// server's database. Changes go through the same ``LiveStreamService`` as the API's; a running server
/// reads them from the change feed within half a second and acts on them (a deleted or disabled
/// stream's publisher is disconnected, a completed broadcast's playlist ends).
struct Streams: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Manage live streams (the same database the server uses).",
        subcommands: [Create.self, List.self, Get.self, Delete.self, ResetKey.self, Disable.self, Enable.self, Complete.self])

    /// Options every streams subcommand takes.
    struct Common: ParsableArguments {
        @OptionGroup var config: ConfigOption
        @Flag(help: "Print the Mux LiveStream JSON object instead of text.")
        var json = false

        /// Runs `body` on the configured database; store errors become exit 1 with the message.
        func run<T>(_ body: (Config, LiveStreamStore, LiveStreamService) async throws -> T) async throws -> T {
            let config = try config.load()
            let store = LiveStreamStore(path: config.storage.database)
            defer { DatabaseOwnership.matchDirectory(of: config.storage.database) }
            do {
                return try await body(config, store, LiveStreamService(repository: store))
            } catch let exit as ExitCode {
                throw exit
            } catch {
                FileHandle.standardError.write(Data("onair: \(error)\n".utf8))
                throw ExitCode(1)
            }
        }
    }

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create a live stream with a new stream key and a playback ID.")
        @OptionGroup var common: Common
        @Option(help: "Seconds a publisher may be gone before the broadcast ends (0-1800).")
        var reconnectWindow: Double = LiveStream.defaultReconnectWindow
        @Option(help: "Longest broadcast in seconds (60-43200).")
        var maxContinuousDuration: Int = LiveStream.defaultMaxContinuousDuration
        @Option(help: "standard, reduced or low.")
        var latencyMode: String = "standard"
        @Option(help: "public or signed.")
        var playbackPolicy: String = "public"
        @Option(help: "Arbitrary text stored with the stream (up to 255 characters).")
        var passthrough: String?
        @Flag(help: "Record every broadcast into an asset (Mux new_asset_settings, with a playback ID of the same policy).")
        var record = false

        func validate() throws {
            guard LiveStream.reconnectWindowRange.contains(reconnectWindow) else {
                throw ValidationError("--reconnect-window must be between 0 and 1800 seconds, got \(reconnectWindow)")
            }
            guard LiveStream.maxContinuousDurationRange.contains(maxContinuousDuration) else {
                throw ValidationError("--max-continuous-duration must be between 60 and 43200 seconds, got \(maxContinuousDuration)")
            }
            guard LiveStream.LatencyMode(rawValue: latencyMode) != nil else {
                throw ValidationError("--latency-mode must be standard, reduced or low, got '\(latencyMode)'")
            }
            guard PlaybackID.Policy(rawValue: playbackPolicy) != nil else {
                throw ValidationError("--playback-policy must be public or signed, got '\(playbackPolicy)'")
            }
            guard (passthrough?.count ?? 0) <= 255 else { throw ValidationError("--passthrough is longer than 255 characters") }
        }

        func run() async throws {
            var new = NewLiveStream()
            new.reconnectWindow = reconnectWindow
            new.maxContinuousDuration = maxContinuousDuration
            new.latencyMode = LiveStream.LatencyMode(rawValue: latencyMode)!
            new.playbackPolicies = [PlaybackID.Policy(rawValue: playbackPolicy)!]
            new.passthrough = passthrough
            if record { new.newAssetSettings = #"{"playback_policies":["\#(playbackPolicy)"]}"# }
            try await common.run { config, _, service in
                try show(try await service.create(new), json: common.json, config: config)
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List live streams, newest first.")
        @OptionGroup var common: Common
        @Option(help: "Streams per page (1-1000).") var limit = 100
        @Option(help: "Page, starting at 1.") var page = 1

        func validate() throws {
            guard (1...1000).contains(limit) else { throw ValidationError("--limit must be between 1 and 1000") }
            guard page >= 1 else { throw ValidationError("--page starts at 1") }
        }

        func run() async throws {
            let streams = try await common.run { _, store, _ in try await store.liveStreams(limit: limit, page: page) }
            if common.json {
                print(try LiveStreamJSON.text(streams.map(LiveStreamJSON.init)))
            } else if streams.isEmpty {
                print("no live streams")
            } else {
                for stream in streams {
                    let playback = stream.playbackIDs.first.map { $0.id } ?? "-"
                    print("\(stream.id)  \(stream.status.rawValue.padding(toLength: 8, withPad: " ", startingAt: 0))  playback \(playback)")
                }
            }
        }
    }

    struct Get: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show one live stream.")
        @OptionGroup var common: Common
        @Argument(help: "Live stream ID.") var id: String

        func run() async throws {
            try await common.run { config, store, _ in
                guard let stream = try await store.liveStream(id: id) else { throw notFound(id) }
                try show(stream, json: common.json, config: config)
            }
        }
    }

    struct Delete: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Delete a live stream: its key stops working, a connected encoder is disconnected, its HLS files go.")
        @OptionGroup var common: Common
        @Argument(help: "Live stream ID.") var id: String

        func run() async throws {
            try await act(common, id, "deleted") { try await $0.delete(id: id) }
        }
    }

    struct ResetKey: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "reset-key", abstract: "Give a live stream a new stream key; an encoder using the old one is disconnected.")
        @OptionGroup var common: Common
        @Argument(help: "Live stream ID.") var id: String

        func run() async throws {
            try await common.run { config, _, service in
                guard let stream = try await service.resetStreamKey(id: id) else { throw notFound(id) }
                try show(stream, json: common.json, config: config)
            }
        }
    }

    struct Disable: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Disable a live stream: its encoder is disconnected and refused until it is enabled.")
        @OptionGroup var common: Common
        @Argument(help: "Live stream ID.") var id: String

        func run() async throws {
            try await act(common, id, "disabled") { try await $0.setDisabled(id: id, true) }
        }
    }

    struct Enable: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Enable a disabled live stream again.")
        @OptionGroup var common: Common
        @Argument(help: "Live stream ID.") var id: String

        func run() async throws {
            try await act(common, id, "enabled") { try await $0.setDisabled(id: id, false) }
        }
    }

    struct Complete: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "End the current broadcast now (EXT-X-ENDLIST); the encoder is dropped 60 s later.")
        @OptionGroup var common: Common
        @Argument(help: "Live stream ID.") var id: String

        func run() async throws {
            try await act(common, id, "completed") { try await $0.complete(id: id) }
        }
    }
}

/// delete, disable, enable, complete: the change for one stream ID, then `done ID` (nothing with --json).
private func act(_ common: Streams.Common, _ id: String, _ done: String,
                 _ change: @escaping (LiveStreamService) async throws -> Bool) async throws {
    try await common.run { _, _, service in
        guard try await change(service) else { throw notFound(id) }
    }
    if !common.json { print("\(done) \(id)") }
}

private func notFound(_ id: String) -> any Error {
    FileHandle.standardError.write(Data("onair: no live stream with id \(id)\n".utf8))
    return ExitCode(1)
}

/// Prints a stream as Mux JSON or as text with the URL to push to.
private func show(_ stream: LiveStream, json: Bool, config: Config) throws {
    if json {
        print(try LiveStreamJSON.text(LiveStreamJSON(stream)))
        return
    }
    let host = ["0.0.0.0", "::", ""].contains(config.rtmp.listen.host) ? ProcessInfo.processInfo.hostName : config.rtmp.listen.host
    print("""
        id:            \(stream.id)
        status:        \(stream.status.rawValue)
        stream key:    \(stream.streamKey)
        playback ids:  \(stream.playbackIDs.map { "\($0.id) (\($0.policy.rawValue))" }.joined(separator: ", "))
        publish to:    rtmp://\(host):\(config.rtmp.listen.port)/app/\(stream.streamKey)
        hls:           \(config.hls.directory)/\(stream.id)/index.m3u8
        recorded:      \(stream.records ? "yes, into assets under \(config.recordings.directory)" : "no")
        """)
}
