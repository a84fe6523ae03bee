import Hummingbird

/// HTTP Basic authentication for `/video/v1` and `/system/v1`: reads need the scope's read or write
/// permission (`video:read`/`video:write`, `system:read`/`system:write`), anything else its write
/// permission. 401 without valid credentials, 403 when a token lacks the permission; then 400 for a
/// query parameter without a name.
struct AuthMiddleware<Context: RequestContext>: RouterMiddleware {
    enum Scope: Sendable {
        case video, system

        var read: AccessTokens.Permission { self == .video ? .read : .systemRead }
        var write: AccessTokens.Permission { self == .video ? .write : .systemWrite }
    }

    let tokens: AccessTokens
    var scope = Scope.video

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let permissions = tokens.permissions(authorization: request.headers[.authorization]) else {
            throw MuxError.unauthorized
        }
        let reading = request.method == .get || request.method == .head
        guard permissions.contains(scope.write) || (reading && permissions.contains(scope.read)) else {
            throw MuxError.forbidden
        }
        // `?=value`: a parameter without a name is no parameter of any operation.
        if request.uri.queryParameters.contains(where: { $0.key.isEmpty }) {
            throw MuxError.invalid("A query parameter has no name")
        }
        return try await next(request, context)
    }
}
