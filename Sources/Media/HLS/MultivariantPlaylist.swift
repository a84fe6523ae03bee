import Foundation

/// A multivariant (master) playlist, RFC 8216bis §4.4.6: one EXT-X-STREAM-INF per variant.
///
/// ```
/// #EXTM3U
/// #EXT-X-VERSION:3
/// #EXT-X-INDEPENDENT-SEGMENTS
/// #EXT-X-STREAM-INF:BANDWIDTH=..,AVERAGE-BANDWIDTH=..,CODECS="..",RESOLUTION=WxH,FRAME-RATE=..
/// uri
/// ```
public struct MultivariantPlaylist: Sendable, Equatable {
    /// One variant stream (§4.4.6.2).
    public struct Variant: Sendable, Equatable {
        public var uri: String
        /// Peak bits per second.
        public var bandwidth: Int
        public var averageBandwidth: Int?
        /// RFC 6381 codec strings, comma-separated.
        public var codecs: String
        public var width: Int?
        public var height: Int?
        public var frameRate: Double?

        public init(uri: String, bandwidth: Int, averageBandwidth: Int? = nil, codecs: String,
                    width: Int? = nil, height: Int? = nil, frameRate: Double? = nil) {
            self.uri = uri
            self.bandwidth = bandwidth
            self.averageBandwidth = averageBandwidth
            self.codecs = codecs
            self.width = width
            self.height = height
            self.frameRate = frameRate
        }
    }

    public var version = 3
    public var independentSegments = true
    public var variants: [Variant]

    public init(variants: [Variant]) {
        self.variants = variants
    }

    /// The playlist text.
    public func render() -> String {
        var text = "#EXTM3U\n#EXT-X-VERSION:\(version)\n"
        if independentSegments { text += "#EXT-X-INDEPENDENT-SEGMENTS\n" }
        for variant in variants {
            var attributes = "BANDWIDTH=\(variant.bandwidth)"
            if let average = variant.averageBandwidth { attributes += ",AVERAGE-BANDWIDTH=\(average)" }
            attributes += ",CODECS=\"\(variant.codecs)\""
            if let width = variant.width, let height = variant.height { attributes += ",RESOLUTION=\(width)x\(height)" }
            if let rate = variant.frameRate { attributes += ",FRAME-RATE=\(String(format: "%.3f", rate))" }
            text += "#EXT-X-STREAM-INF:\(attributes)\n\(variant.uri)\n"
        }
        return text
    }
}
