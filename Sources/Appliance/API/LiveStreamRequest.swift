import Foundation
import NIOCore

/// Validates Mux create/update request bodies field by field. Unknown fields are ignored (as Mux
/// does); a field of the wrong type or out of range is an `invalid_parameters` error naming it.
struct LiveStreamRequest {
    private let fields: [String: JSONValue]
    private var problems: [String] = []

    /// The fields of a nested object, validated like a body.
    init(fields: [String: JSONValue]) {
        self.fields = fields
    }

    /// Parses a body; an empty body is an empty object.
    init(body: ByteBuffer) throws {
        guard body.readableBytes > 0 else { fields = [:]; return }
        let value: JSONValue
        do {
            value = try JSONParser.parse(body.readableBytesView)
        } catch JSONParser.Failure.duplicateKey(let key) {
            throw MuxError.invalid("Request body repeats the key \(key)")
        } catch {
            throw MuxError.invalid("Request body is not valid JSON")
        }
        guard case .object(let object) = value else { throw MuxError.invalid("Request body must be a JSON object") }
        fields = object
    }

    /// Notes a missing required field.
    mutating func require(_ name: String) {
        if present(name) == nil { problems.append("\(name) is required") }
    }

    /// Throws the collected problems, if any.
    func check() throws {
        if !problems.isEmpty { throw MuxError.invalid(problems) }
    }

    /// The field's value when the body has it; an explicit null is a value (of the wrong type).
    private func present(_ name: String) -> JSONValue? { fields[name] }

    mutating func bool(_ name: String) -> Bool? {
        guard let value = present(name) else { return nil }
        guard case .bool(let flag) = value else { problems.append("\(name) must be a boolean, not \(value.typeName)"); return nil }
        return flag
    }

    mutating func string(_ name: String, maxLength: Int) -> String? {
        guard let value = present(name) else { return nil }
        guard case .string(let text) = value else { problems.append("\(name) must be a string, not \(value.typeName)"); return nil }
        guard text.unicodeScalars.count <= maxLength else { problems.append("\(name) must be at most \(maxLength) characters"); return nil }
        return text
    }

    mutating func number(_ name: String, _ range: ClosedRange<Double>) -> Double? {
        guard let value = present(name) else { return nil }
        guard case .number(let number) = value else { problems.append("\(name) must be a number, not \(value.typeName)"); return nil }
        guard range.contains(number) else {
            problems.append("\(name) must be between \(Self.format(range.lowerBound)) and \(Self.format(range.upperBound))")
            return nil
        }
        return number
    }

    mutating func integer(_ name: String, _ range: ClosedRange<Int>) -> Int? {
        guard let number = number(name, Double(range.lowerBound)...Double(range.upperBound)) else { return nil }
        guard number == number.rounded() else { problems.append("\(name) must be an integer"); return nil }
        return Int(number)
    }

    mutating func latencyMode() -> LiveStream.LatencyMode? {
        guard let text = string("latency_mode", maxLength: 32) else { return nil }
        guard let mode = LiveStream.LatencyMode(rawValue: text) else {
            problems.append("latency_mode must be one of standard, reduced, low"); return nil
        }
        return mode
    }

    /// `meta.title`.
    mutating func title() -> String? {
        guard let value = present("meta") else { return nil }
        guard case .object(let meta) = value else { problems.append("meta must be an object, not \(value.typeName)"); return nil }
        guard let title = meta["title"] else { return nil }
        guard case .string(let text) = title else { problems.append("meta.title must be a string"); return nil }
        guard text.unicodeScalars.count <= 512 else { problems.append("meta.title must be at most 512 characters"); return nil }
        return text
    }

    /// `new_asset_settings` as JSON text, kept as given once its fields that apply to a recording are
    /// valid (reference/mux-api.md §5.3; fields for uploaded assets, e.g. `input`, are kept and ignored).
    mutating func newAssetSettings() -> String? {
        guard let value = present("new_asset_settings") else { return nil }
        guard case .object(let settings) = value else { problems.append("new_asset_settings must be an object, not \(value.typeName)"); return nil }
        var nested = LiveStreamRequest(fields: settings)
        _ = nested.policies("playback_policies")
        _ = nested.policies("playback_policy")
        _ = nested.string("passthrough", maxLength: 255)
        _ = nested.bool("test")
        _ = nested.assetMeta()
        let mp4 = nested.mp4Support()
        let renditions = nested.staticRenditions()
        nested.masterAccess()
        if mp4 != nil && mp4 != Asset.MP4Support.none.rawValue && !(renditions ?? []).isEmpty {
            nested.problems.append("mp4_support and static_renditions cannot be used together")
        }
        problems += nested.problems.map { "new_asset_settings.\($0)" }
        return (try? JSONEncoder().encode(value)).map { String(decoding: $0, as: UTF8.self) }
    }

    /// `master_access`: `none` only, for now (`temporary` would promise a download onair does not make yet).
    @discardableResult
    mutating func masterAccess() -> String? {
        guard let text = string("master_access", maxLength: 32) else { return nil }
        switch text {
        case "none": return text
        case "temporary":
            problems.append("master_access temporary is not available on onair yet: ask for the static rendition highest.mp4, "
                            + "the recording remuxed into one MP4 without re-encoding")
        default: problems.append("master_access must be temporary or none")
        }
        return nil
    }

    /// `mp4_support`, one of Mux's values.
    mutating func mp4Support() -> String? {
        guard let text = string("mp4_support", maxLength: 64) else { return nil }
        guard Asset.MP4Support(rawValue: text) != nil else {
            problems.append("mp4_support must be one of \(Asset.MP4Support.allCases.map(\.rawValue).joined(separator: ", "))"); return nil
        }
        return text
    }

    /// `static_renditions`: `[{resolution, passthrough?}]`, resolutions onair makes without re-encoding.
    mutating func staticRenditions() -> [(name: Asset.StaticRendition.Name, passthrough: String?)]? {
        guard let value = present("static_renditions") else { return nil }
        guard case .array(let items) = value, items.count <= 10 else {
            problems.append("static_renditions must be an array of at most 10 objects"); return nil
        }
        var result: [(name: Asset.StaticRendition.Name, passthrough: String?)] = []
        for item in items {
            guard case .object(let fields) = item else { problems.append("static_renditions entries must be objects"); return nil }
            var entry = LiveStreamRequest(fields: fields)
            guard let resolution = entry.rendition() else { problems += entry.problems.map { "static_renditions.\($0)" }; return nil }
            let passthrough = entry.string("passthrough", maxLength: 255)
            problems += entry.problems.map { "static_renditions.\($0)" }
            result.append((resolution, passthrough))
        }
        return result
    }

    /// The `resolution` of a static rendition request.
    mutating func rendition() -> Asset.StaticRendition.Name? {
        guard let text = string("resolution", maxLength: 32) else {
            if present("resolution") == nil { problems.append("resolution is required") }
            return nil
        }
        guard let name = AssetSettings.renditionNames[text] else {
            problems.append("resolution must be highest or audio-only: onair remuxes the recording and never re-encodes it, got '\(text)'")
            return nil
        }
        return name
    }

    /// An asset's `meta`: `title` (512), `creator_id` and `external_id` (128 each).
    mutating func assetMeta() -> Asset.Meta? {
        guard let value = present("meta") else { return nil }
        guard case .object(let fields) = value else { problems.append("meta must be an object, not \(value.typeName)"); return nil }
        var meta = LiveStreamRequest(fields: fields)
        let result = Asset.Meta(title: meta.string("title", maxLength: 512), creatorID: meta.string("creator_id", maxLength: 128),
                                externalID: meta.string("external_id", maxLength: 128))
        problems += meta.problems.map { "meta.\($0)" }
        return result
    }

    /// A policy string, or a list of them, under `name`.
    mutating func policies(_ name: String) -> [PlaybackID.Policy]? {
        guard let value = present(name) else { return nil }
        let items: [JSONValue]
        switch value {
        case .array(let list): items = list
        case .string: items = [value]
        default: problems.append("\(name) must be an array of policies"); return nil
        }
        var result: [PlaybackID.Policy] = []
        for item in items {
            guard case .string(let text) = item else { problems.append("\(name) entries must be strings"); return nil }
            guard let policy = PlaybackID.Policy(rawValue: text) else {
                problems.append(text == "drm" ? "\(name): drm playback is not supported by onair" : "\(name) entries must be public or signed")
                return nil
            }
            result.append(policy)
        }
        // Protects the box from a body of thousands of playback IDs; documented in docs/openapi.yaml.
        guard result.count <= Self.maxPolicies else { problems.append("\(name) may list at most \(Self.maxPolicies) policies"); return nil }
        return result
    }

    /// The `policy` of a create-playback-ID body: optional, `public` when left out (as Mux does).
    mutating func playbackPolicy() -> PlaybackID.Policy? {
        guard let value = present("policy") else { return .public }
        guard case .string = value else { problems.append("policy must be a string, not \(value.typeName)"); return nil }
        return policies("policy")?.first
    }

    /// A CreateSimulcastTargetRequest: `url` (required; rtmp:// or rtmps://), `stream_key`, `passthrough`.
    mutating func simulcastTarget() throws -> SimulcastTarget {
        let target = simulcastTargetFields()
        try check()
        return target!
    }

    private mutating func simulcastTargetFields() -> SimulcastTarget? {
        let url = string("url", maxLength: SimulcastURL.maxLength)
        if present("url") == nil { problems.append("url is required") }
        let streamKey = string("stream_key", maxLength: 1024).flatMap { $0.isEmpty ? nil : $0 }
        let passthrough = string("passthrough", maxLength: 255)
        guard let url else { return nil }
        do {
            _ = try SimulcastURL(url: url, streamKey: streamKey)
        } catch {
            problems.append(error.message)
            return nil
        }
        return SimulcastTarget(id: "", url: url, streamKey: streamKey, passthrough: passthrough)
    }

    /// `simulcast_targets` of a create request: at most ``SimulcastTarget/limit`` of them.
    mutating func simulcastTargets() -> [SimulcastTarget] {
        guard let value = present("simulcast_targets") else { return [] }
        guard case .array(let items) = value, items.count <= SimulcastTarget.limit else {
            problems.append("simulcast_targets must be an array of at most \(SimulcastTarget.limit) objects"); return []
        }
        var targets: [SimulcastTarget] = []
        for item in items {
            guard case .object(let fields) = item else { problems.append("simulcast_targets entries must be objects"); return [] }
            var entry = LiveStreamRequest(fields: fields)
            if let target = entry.simulcastTargetFields() { targets.append(target) }
            problems += entry.problems.map { "simulcast_targets.\($0)" }
        }
        return targets
    }

    /// Most playback IDs one create request may ask for.
    static let maxPolicies = 10

    /// A CreateLiveStreamRequest.
    mutating func newLiveStream() throws -> NewLiveStream {
        var new = NewLiveStream()
        let current = policies("playback_policies")
        let deprecated = policies("playback_policy")  // validated even when playback_policies is given
        new.playbackPolicies = current ?? deprecated ?? []
        if let value = number("reconnect_window", LiveStream.reconnectWindowRange) { new.reconnectWindow = value }
        if let value = integer("max_continuous_duration", LiveStream.maxContinuousDurationRange) { new.maxContinuousDuration = value }
        if let value = latencyMode() { new.latencyMode = value }
        new.passthrough = string("passthrough", maxLength: 255)
        new.audioOnly = bool("audio_only") ?? false
        new.test = bool("test") ?? false
        new.useSlateForStandardLatency = bool("use_slate_for_standard_latency") ?? false
        new.reconnectSlateURL = string("reconnect_slate_url", maxLength: 2048)
        new.title = title()
        new.newAssetSettings = newAssetSettings()
        new.simulcastTargets = simulcastTargets()
        _ = bool("reduced_latency")
        _ = bool("low_latency")
        try check()
        return new
    }

    /// An UpdateLiveStreamRequest.
    mutating func update() throws -> LiveStreamUpdate {
        var update = LiveStreamUpdate()
        update.passthrough = string("passthrough", maxLength: 255)
        update.latencyMode = latencyMode()
        update.reconnectWindow = number("reconnect_window", LiveStream.reconnectWindowRange)
        update.maxContinuousDuration = integer("max_continuous_duration", LiveStream.maxContinuousDurationRange)
        update.useSlateForStandardLatency = bool("use_slate_for_standard_latency")
        update.reconnectSlateURL = string("reconnect_slate_url", maxLength: 2048)
        update.title = title()
        update.newAssetSettings = newAssetSettings()
        try check()
        return update
    }

    private static func format(_ value: Double) -> String {
        value == value.rounded() ? String(Int(value)) : String(value)
    }
}
