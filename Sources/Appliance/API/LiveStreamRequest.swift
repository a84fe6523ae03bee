import Foundation
import NIOCore

/// Validates Mux create/update request bodies field by field. Unknown fields are ignored (as Mux
/// does); a field of the wrong type or out of range is an `invalid_parameters` error naming it.
struct LiveStreamRequest {
    private let fields: [String: JSONValue]
    private var problems: [String] = []

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

    /// `new_asset_settings` as JSON text, kept as given.
    mutating func newAssetSettings() -> String? {
        guard let value = present("new_asset_settings") else { return nil }
        guard case .object = value else { problems.append("new_asset_settings must be an object, not \(value.typeName)"); return nil }
        return (try? JSONEncoder().encode(value)).map { String(decoding: $0, as: UTF8.self) }
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
