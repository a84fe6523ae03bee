import Foundation
import GRDB
import Hummingbird

/// An API error in Mux's wire shape: `{"error": {"type": "...", "messages": ["..."]}}`.
struct MuxError: HTTPResponseError {
    let status: HTTPResponse.Status
    let type: String
    let messages: [String]

    static func invalid(_ messages: [String]) -> MuxError { MuxError(status: .badRequest, type: "invalid_parameters", messages: messages) }
    static func invalid(_ message: String) -> MuxError { .invalid([message]) }
    static let unauthorized = MuxError(status: .unauthorized, type: "unauthorized", messages: ["Unauthorized request"])
    static let forbidden = MuxError(status: .forbidden, type: "forbidden",
                                    messages: ["This access token does not have permission for this request"])
    static let notFound = MuxError(status: .notFound, type: "not_found",
                                   messages: ["The requested resource either doesn't exist or you don't have access to it."])
    static func tooLarge(limit: Int) -> MuxError {
        MuxError(status: .contentTooLarge, type: "payload_too_large", messages: ["Request body is larger than \(limit) bytes"])
    }
    static let unavailable = MuxError(status: .serviceUnavailable, type: "service_unavailable",
                                      messages: ["The service is temporarily unavailable; try again"])

    /// 503 for a database that cannot take the request now (disk full, I/O error, locked); nil for
    /// errors that are the request's fault or a bug. SQLite rolls the transaction back: nothing is half-written.
    static func unavailable(_ error: DatabaseError) -> MuxError? {
        switch error.resultCode {
        case .SQLITE_FULL:
            MuxError(status: .serviceUnavailable, type: "service_unavailable",
                     messages: ["The appliance's disk is full: the database cannot be written. Nothing was changed; free space and try again"])
        case .SQLITE_IOERR, .SQLITE_CANTOPEN, .SQLITE_READONLY:
            MuxError(status: .serviceUnavailable, type: "service_unavailable",
                     messages: ["The database cannot be written (I/O error). Nothing was changed; try again"])
        case .SQLITE_BUSY, .SQLITE_LOCKED:
            MuxError(status: .serviceUnavailable, type: "service_unavailable", messages: ["The database is busy; try again"])
        default:
            nil
        }
    }

    private struct Body: Encodable {
        struct Inner: Encodable {
            let type: String
            let messages: [String]
        }
        let error: Inner
    }

    func response(from request: Request, context: some RequestContext) throws -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "application/json"
        if status == .unauthorized { headers[.wwwAuthenticate] = "Basic realm=\"onair\"" }
        let data = try JSONEncoder().encode(Body(error: .init(type: type, messages: messages)))
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }
}

/// Turns every error on the API into Mux's shape: unknown routes become not_found, an oversized
/// body payload_too_large, anything unexpected a logged 500 without internals.
extension MuxError {
    /// A request path fit for a log line: a signed playback grant (`/{ID}/t/{GRANT}/...`) is left out.
    static func loggable(_ path: String) -> String {
        guard let range = path.range(of: "/t/") else { return path }
        let rest = path[range.upperBound...]
        return path[..<range.upperBound] + "-" + (rest.firstIndex(of: "/").map { String(rest[$0...]) } ?? "")
    }
}

struct MuxErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as MuxError {
            throw error
        } catch let error as HTTPError {
            switch error.status {
            case .notFound: throw MuxError.notFound
            case .contentTooLarge: throw MuxError(status: .contentTooLarge, type: "payload_too_large", messages: ["Request body is too large"])
            case .methodNotAllowed: throw MuxError(status: .methodNotAllowed, type: "method_not_allowed", messages: ["Method not allowed"])
            default: throw MuxError(status: error.status, type: "invalid_request", messages: [error.body ?? error.status.reasonPhrase])
            }
        } catch let error as HTTPResponseError where error.status == .contentTooLarge {
            throw MuxError(status: .contentTooLarge, type: "payload_too_large", messages: ["Request body is too large"])
        } catch let error as HTTPResponseError {
            throw error  // another layer's error that renders Mux's shape itself (playback's)
        } catch let error as DatabaseError where MuxError.unavailable(error) != nil {
            context.logger.error("API request failed: database unavailable", metadata: [
                "error": "\(error.resultCode)", "message": "\(error.message ?? "")", "path": "\(MuxError.loggable(request.uri.path))"])
            throw MuxError.unavailable(error)!
        } catch {
            context.logger.error("API request failed", metadata: ["error": "\(error)", "path": "\(MuxError.loggable(request.uri.path))"])
            throw MuxError(status: .internalServerError, type: "internal_error", messages: ["Internal server error"])
        }
    }
}
