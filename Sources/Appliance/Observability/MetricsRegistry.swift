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
            (sanitize(name), labels.map { (sanitize($0.0), $0.1) })
        }
        factory.durationHistogramBuckets[sanitize(segmentPublishDelay)] = [
            .milliseconds(1), .milliseconds(2), .milliseconds(5), .milliseconds(10), .milliseconds(25),
            .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1),
        ]
        MetricsSystem.bootstrap(factory)
        return registry
    }

    /// Prometheus names allow `[a-zA-Z_:][a-zA-Z0-9_:]*`; Hummingbird's dotted names become underscores.
    static func sanitize(_ name: String) -> String {
        String(name.map { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_" || $0 == ":") ? $0 : "_" })
    }

    static let ingestBytes = "onair_ingest_bytes_total"
    static let ingestFrames = "onair_ingest_frames_total"
    static let segmentsWritten = "onair_segments_written_total"
    static let segmentsDropped = "onair_segments_dropped_total"
    static let segmentPublishDelay = "onair_segment_publish_delay_seconds"
    static let activePublishers = "onair_active_publishers"
    static let hlsBytes = "onair_hls_bytes"

    /// GET /metrics.
    static func route<Context: RequestContext>(on router: Router<Context>, registry: PrometheusCollectorRegistry) {
        router.get("metrics") { _, _ in
            var headers = HTTPFields()
            headers[.contentType] = "text/plain; version=0.0.4; charset=utf-8"
            headers[.cacheControl] = "no-store"
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: registry.emitToBuffer())))
        }
    }
}
