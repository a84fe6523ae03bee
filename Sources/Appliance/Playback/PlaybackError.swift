import Foundation
import Hummingbird

/// Why a playback request fails, answered in Mux's error shape (`{"error": {"type", "messages"}}`).
enum PlaybackError: HTTPResponseError, Equatable {
    /// Unknown playback ID or file.
    case notFound
    /// The live stream is not active (Mux answers 412 until it is).
    case notActive
    /// The asset has no media yet (its broadcast's first segments are still coming).
    case assetPreparing
    /// A signed playback ID without a valid token or grant, or a public one given a token; the reason
    /// says which claim or part failed (never key material).
    case forbidden(String)
    /// The signing keys could not be read (the database is unavailable).
    case unavailable
    /// LL-HLS delivery directives that cannot be honoured (RFC 8216bis §6.2.5.2: 400).
    case badDirective(String)
    /// A held request whose part did not appear within three target durations (§6.2.5.2: 503).
    case holdTimedOut

    var status: HTTPResponse.Status {
        switch self {
        case .notFound: .notFound
        case .notActive, .assetPreparing: .preconditionFailed
        case .forbidden: .forbidden
        case .unavailable: .serviceUnavailable
        case .badDirective: .badRequest
        case .holdTimedOut: .serviceUnavailable
        }
    }

    var type: String {
        switch self {
        case .notFound: "not_found"
        case .notActive: "stream_not_active"
        case .assetPreparing: "asset_not_ready"
        case .forbidden: "forbidden"
        case .unavailable: "service_unavailable"
        case .badDirective: "invalid_parameters"
        case .holdTimedOut: "service_unavailable"
        }
    }

    var message: String {
        switch self {
        case .notFound: "The requested resource either doesn't exist or you don't have access to it."
        case .notActive: "The live stream is not active"
        case .assetPreparing: "The asset has no media yet"
        case .forbidden(let reason): reason
        case .unavailable: "Signed playback is unavailable for a moment; try again"
        case .badDirective(let reason): reason
        case .holdTimedOut: "The requested part did not appear within three target durations; the publisher may have stalled"
        }
    }

    /// The headers of every playback error.
    static var headers: HTTPFields {
        var headers = HTTPFields()
        headers[.contentType] = "application/json"
        headers[.accessControlAllowOrigin] = "*"
        headers[.cacheControl] = "no-store"
        return headers
    }

    func response(from request: Request, context: some RequestContext) throws -> Response {
        let headers = Self.headers
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: body)))
    }

    /// `{"error": {"type", "messages"}}`.
    var body: Data {
        (try? JSONEncoder().encode(["error": Body(type: type, messages: [message])])) ?? Data()
    }

    private struct Body: Encodable {
        let type: String
        let messages: [String]
    }
}
