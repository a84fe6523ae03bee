import Foundation

/// Where a simulcast target is, parsed from its Mux `url` and `stream_key`:
/// `rtmp[s]://host[:port]/app[/more]`. The stream name is the `stream_key`; without one, the URL's
/// last path segment (`rtmp://host/app/KEY`, as encoders take it). `tcUrl` is the URL up to the app.
struct SimulcastURL: Sendable, Equatable {
    var host: String
    var port: Int
    var tls: Bool
    var app: String
    var tcUrl: String
    var streamName: String

    /// Why a URL cannot be a target (the API's 400 message).
    struct Invalid: Error, Equatable {
        var message: String
    }

    static let maxLength = 2048

    init(url: String, streamKey: String?) throws(Invalid) {
        guard url.utf8.count <= Self.maxLength else { throw Invalid(message: "url must be at most \(Self.maxLength) characters") }
        if url.lowercased().hasPrefix("srt://") {
            throw Invalid(message: "url: SRT targets need SRT ingest, which onair does not have; use an rtmp:// or rtmps:// URL")
        }
        guard let components = URLComponents(string: url), let scheme = components.scheme?.lowercased(),
              scheme == "rtmp" || scheme == "rtmps" else {
            throw Invalid(message: "url must be an rtmp:// or rtmps:// URL that includes the application, e.g. rtmp://live.example.com/app")
        }
        guard let host = components.host, !host.isEmpty, components.user == nil, components.password == nil else {
            throw Invalid(message: "url must name a host (and no user or password): rtmp://host[:port]/app")
        }
        guard components.port.map({ (1...65535).contains($0) }) ?? true else { throw Invalid(message: "url has a port outside 1-65535") }
        var segments = components.percentEncodedPath.split(separator: "/", omittingEmptySubsequences: true).map(String.init)
        var name = streamKey ?? ""
        if streamKey == nil || streamKey?.isEmpty == true {
            guard segments.count >= 2 else {
                throw Invalid(message: "stream_key is required unless the url ends with it (rtmp://host/app/STREAM_KEY)")
            }
            name = segments.removeLast()
            if let query = components.percentEncodedQuery { name += "?" + query }
        }
        guard !segments.isEmpty else { throw Invalid(message: "url must include the application, e.g. rtmp://live.example.com/app") }
        guard !name.contains(where: { $0.isNewline || $0 == "\0" }) else { throw Invalid(message: "stream_key must not contain control characters") }
        self.host = host
        tls = scheme == "rtmps"
        port = components.port ?? (tls ? 443 : 1935)
        app = segments.joined(separator: "/")
        if streamKey != nil, streamKey?.isEmpty == false, let query = components.percentEncodedQuery { app += "?" + query }
        let authority = components.port.map { "\(host):\($0)" } ?? host
        tcUrl = "\(scheme)://\(authority)/\(app)"
        streamName = name
    }

    /// `host:port` for logs (the stream name is a secret).
    var endpoint: String { "\(host):\(port)" }
}
