/// What an image URL asks for, as image.mux.com reads it (mux-api.md §3.3), checked against Mux's
/// limits. Parameters come from the query, or from a signed playback ID's token claims. Pure.
///
/// ```
/// thumbnail.{jpg,png,webp}   time, latest, width, height, rotate (90|180|270), fit_mode, flip_v, flip_h
/// animated.{gif,webp}        start (0), end (start+5; 0.25–10 s long), width (320, ≤640), height (≤640), fps (15, ≤30)
/// storyboard.{jpg,png,webp}  asset_start_time, asset_end_time
/// storyboard.{vtt,json}      the same, and format (jpg|png|webp): the image the cues point to
/// ```
/// Unknown parameters are ignored, as Mux does.
struct ImageRequest: Sendable, Hashable {
    enum Kind: String, Sendable { case thumbnail, animated, storyboard }

    enum Format: String, Sendable { case jpg, png, webp, gif, vtt, json }

    enum FitMode: String, Sendable, CaseIterable { case preserve, stretch, crop, smartcrop, pad }

    var kind: Kind
    var format: Format
    /// Thumbnail: seconds on the broadcast's or the recording's timeline; nil: the default (a live
    /// stream's newest picture, the middle of an asset).
    var time: Double?
    /// Thumbnail of a live stream: its newest picture.
    var latest = false
    var width: Int?
    var height: Int?
    /// Clockwise degrees: 0, 90, 180 or 270.
    var rotate = 0
    var fitMode = FitMode.preserve
    var flipVertical = false
    var flipHorizontal = false
    /// Animated: the seconds it covers, and its frame rate.
    var start = 0.0
    var end = 5.0
    var fps = 15
    /// Storyboard: the stretch of the asset it covers (nil: all of it), and the image format the
    /// VTT and JSON point to.
    var clipStart: Double?
    var clipEnd: Double?
    var tileFormat = Format.jpg

    static let maximumDimension = 4096
    static let maximumAnimatedDimension = 640
    static let maximumSeconds = 1e7

    /// Why the parameters are refused: 400 `{"code": 3}` (as Mux answers), with the reason.
    struct Invalid: Error, Equatable, CustomStringConvertible {
        var description: String
    }

    /// The request for `file` (e.g. `thumbnail.jpg`); nil when `file` is not an image's name.
    static func parse(file: String, parameters: [String: String]) throws(Invalid) -> ImageRequest? {
        let pieces = file.split(separator: ".", omittingEmptySubsequences: false)
        guard pieces.count == 2, let kind = Kind(rawValue: String(pieces[0])), let format = Format(rawValue: String(pieces[1])) else { return nil }
        switch (kind, format) {
        case (.thumbnail, .jpg), (.thumbnail, .png), (.thumbnail, .webp), (.animated, .gif), (.animated, .webp),
             (.storyboard, .jpg), (.storyboard, .png), (.storyboard, .webp), (.storyboard, .vtt), (.storyboard, .json): break
        default: return nil
        }
        var request = ImageRequest(kind: kind, format: format)
        let reader = Reader(parameters: parameters)
        switch kind {
        case .thumbnail:
            request.time = try reader.seconds("time")
            request.latest = try reader.flag("latest")
            if request.latest, request.time != nil { throw Invalid(description: "time and latest cannot be asked together") }
            request.width = try reader.integer("width", 1...maximumDimension)
            request.height = try reader.integer("height", 1...maximumDimension)
            if let rotate = try reader.integer("rotate", 0...270) {
                guard [90, 180, 270].contains(rotate) else { throw Invalid(description: "rotate must be 90, 180 or 270") }
                request.rotate = rotate
            }
            if let mode = parameters["fit_mode"] {
                guard let fit = FitMode(rawValue: mode) else {
                    throw Invalid(description: "fit_mode must be one of \(FitMode.allCases.map(\.rawValue).joined(separator: ", "))")
                }
                request.fitMode = fit
            }
            if request.fitMode != .preserve, request.width == nil || request.height == nil {
                throw Invalid(description: "fit_mode \(request.fitMode.rawValue) needs both width and height")
            }
            request.flipVertical = try reader.flag("flip_v")
            request.flipHorizontal = try reader.flag("flip_h")
            if parameters["program_time"] != nil { throw Invalid(description: "program_time is not supported; use time") }
        case .animated:
            request.start = try reader.seconds("start") ?? 0
            request.end = try reader.seconds("end") ?? request.start + 5
            let length = request.end - request.start
            guard length >= 0.25, length <= 10 else { throw Invalid(description: "end - start must be from 0.25 to 10 seconds") }
            request.width = try reader.integer("width", 1...maximumAnimatedDimension)
            request.height = try reader.integer("height", 1...maximumAnimatedDimension)
            if request.width == nil, request.height == nil { request.width = 320 }
            request.fps = try reader.integer("fps", 1...30) ?? 15
        case .storyboard:
            request.clipStart = try reader.seconds("asset_start_time")
            request.clipEnd = try reader.seconds("asset_end_time")
            if let start = request.clipStart, let end = request.clipEnd, end <= start {
                throw Invalid(description: "asset_end_time must be after asset_start_time")
            }
            for name in ["program_start_time", "program_end_time"] where parameters[name] != nil {
                throw Invalid(description: "\(name) is not supported; use asset_start_time and asset_end_time")
            }
            if format == .vtt || format == .json {
                if let tile = parameters["format"] {
                    guard let tileFormat = Format(rawValue: tile), [.jpg, .png, .webp].contains(tileFormat) else {
                        throw Invalid(description: "format must be jpg, png or webp")
                    }
                    request.tileFormat = tileFormat
                }
            } else {
                request.tileFormat = format
            }
        }
        return request
    }

    /// The picture's MIME type.
    var contentType: String {
        switch format {
        case .jpg: "image/jpeg"
        case .png: "image/png"
        case .webp: "image/webp"
        case .gif: "image/gif"
        case .vtt: "text/vtt; charset=utf-8"
        case .json: "application/json"
        }
    }

    /// The token audience a signed playback ID needs (§4.1): `t` thumbnails, `g` animations, `s` storyboards.
    var audience: String {
        switch kind {
        case .thumbnail: "t"
        case .animated: "g"
        case .storyboard: "s"
        }
    }

    private struct Reader {
        let parameters: [String: String]

        func seconds(_ name: String) throws(Invalid) -> Double? {
            guard let text = parameters[name] else { return nil }
            guard text.utf8.count <= 32, let value = Double(text), value.isFinite, value >= 0, value <= ImageRequest.maximumSeconds else {
                throw Invalid(description: "\(name) must be a number of seconds from 0")
            }
            return value
        }

        func integer(_ name: String, _ range: ClosedRange<Int>) throws(Invalid) -> Int? {
            guard let text = parameters[name] else { return nil }
            // Mux's SDKs and claims may send 640.0 for an integer.
            let value = Int(text) ?? Double(text).flatMap { $0.rounded() == $0 && abs($0) < 1e9 ? Int($0) : nil }
            guard text.utf8.count <= 32, let value, range.contains(value) else {
                throw Invalid(description: "\(name) must be an integer from \(range.lowerBound) to \(range.upperBound)")
            }
            return value
        }

        func flag(_ name: String) throws(Invalid) -> Bool {
            switch parameters[name] {
            case nil, "false", "0": return false
            case "true", "1", "": return true
            default: throw Invalid(description: "\(name) must be true or false")
            }
        }
    }
}
