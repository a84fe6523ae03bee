import Hummingbird
import Metrics
import Prometheus

/// swift-metrics backed by a Prometheus registry, rendered at `/metrics` in the text format.
///
/// Labels are bounded: at most per live stream (`live_stream_id`), per track kind and per HTTP route,
/// never per connection or remote address.
enum MetricsRegistry {
    /// Installs the Prometheus factory as the process's metrics backend (once per process).
    static func bootstrap() -> PrometheusCollectorRegistry {
        let registry = PrometheusCollectorRegistry()
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.nameAndLabelSanitizer = { name, labels in
            (renamed[name] ?? sanitize(name), labels.map { (sanitize($0.0), $0.1) })
        }
        factory.durationHistogramBuckets[sanitize(segmentPublishDelay)] = [
            .milliseconds(1), .milliseconds(2), .milliseconds(5), .milliseconds(10), .milliseconds(25),
            .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1),
        ]
        factory.durationHistogramBuckets[webhookLatency] = [
            .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100), .milliseconds(250),
            .milliseconds(500), .seconds(1), .seconds(5), .seconds(30), .seconds(300), .seconds(3600),
        ]
        MetricsSystem.bootstrap(factory)
        return registry
    }

    /// Prometheus names allow `[a-zA-Z_:][a-zA-Z0-9_:]*`; Hummingbird's dotted names become underscores.
    static func sanitize(_ name: String) -> String {
        String(name.map { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_" || $0 == ":") ? $0 : "_" })
    }

    /// Hummingbird's metric names, in Prometheus conventions (`_total` counters, `_seconds` durations).
    static let renamed = [
        "hb.requests": "onair_http_requests_total",
        "hb.request.errors": "onair_http_request_errors_total",
        "http.server.request.duration": "onair_http_request_duration_seconds",
        "http.server.active_requests": "onair_http_active_requests",
    ]

    /// `# HELP` text per metric (swift-metrics has no help strings; promtool wants them).
    static let help = [
        "onair_http_requests_total": "HTTP requests by route, method and status.",
        "onair_http_request_errors_total": "HTTP requests that ended in an error, by route and status.",
        "onair_http_request_duration_seconds": "Time to answer HTTP requests, by route and status.",
        "onair_http_active_requests": "HTTP requests being answered.",
        ingestBytes: "RTMP bytes received from a live stream's publisher.",
        ingestFrames: "Audio and video frames received from a live stream's publisher.",
        segmentsWritten: "HLS segments written for a live stream.",
        segmentsDropped: "HLS segments dropped for a live stream, by reason: budget (byte budget), disk_full (the file system filled up), write_failed (a segment could not be written and was skipped).",
        segmentPublishDelay: "Time from the sample that closes a segment to the playlist listing it.",
        activePublishers: "Live streams with a connected publisher.",
        hlsBytes: "Bytes of HLS segments on disk (tmpfs) for all streams.",
        "onair_lifecycle_events_total": "Lifecycle events by type (video.live_stream.connected, .recording, .active, ...).",
        "onair_lifecycle_events_dropped_total": "Lifecycle events a subscriber lost because it fell behind, by subscriber (journal: the webhook outbox could not be written).",
        webhookQueued: "Webhook events waiting in the outbox for an endpoint (delivery not yet answered 2xx).",
        webhookDelivered: "Webhook events an endpoint answered with 2xx.",
        webhookRetried: "Failed webhook attempts that will be tried again (non-2xx, timeout, refused).",
        webhookDropped: "Webhook events given up, by reason: expired (not delivered within retry_for), outbox_full (the oldest went past max_queued), endpoint_removed (the endpoint left the configuration).",
        webhookLatency: "Time from a webhook event to its endpoint's 2xx answer, retries included.",
        imageDecodes: "Thumbnail, animation and storyboard decodes (ffmpeg processes), by result: made, undecodable, killed (time limit or crash), failed (not started), busy (refused: too many running and waiting).",
        imageDecodeTime: "Time an ffmpeg process took to make a picture.",
    ]

    /// The registry's text with a `# HELP` line before every `# TYPE` line.
    static func exposition(_ registry: PrometheusCollectorRegistry) -> String {
        var output = ""
        for line in registry.emitToString().split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix("# TYPE "), let name = line.split(separator: " ").dropFirst(2).first {
                output += "# HELP \(name) \(help[String(name)] ?? "onair metric \(name).")\n"
            }
            output += line + "\n"
        }
        return String(output.dropLast())
    }

    static let ingestBytes = "onair_ingest_bytes_total"
    static let ingestFrames = "onair_ingest_frames_total"
    static let segmentsWritten = "onair_segments_written_total"
    static let segmentsDropped = "onair_segments_dropped_total"
    static let segmentPublishDelay = "onair_segment_publish_delay_seconds"
    static let activePublishers = "onair_active_publishers"
    static let hlsBytes = "onair_hls_bytes"
    static let webhookQueued = "onair_webhook_events_queued"
    static let webhookDelivered = "onair_webhook_deliveries_total"
    static let webhookRetried = "onair_webhook_retries_total"
    static let webhookDropped = "onair_webhook_events_dropped_total"
    static let webhookLatency = "onair_webhook_delivery_seconds"
    static let imageDecodes = "onair_image_decodes_total"
    static let imageDecodeTime = "onair_image_decode_seconds"

    /// GET /metrics.
    static func route<Context: RequestContext>(on router: Router<Context>, registry: PrometheusCollectorRegistry) {
        router.get("metrics") { _, _ in
            var headers = HTTPFields()
            headers[.contentType] = "text/plain; version=0.0.4; charset=utf-8"
            headers[.cacheControl] = "no-store"
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: exposition(registry))))
        }
    }
}
