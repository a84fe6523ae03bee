import Hummingbird

/// HTTP Basic authentication for `/video/v1`: reads need `video:read` or `video:write`, anything
/// else `video:write`. 401 without valid credentials, 403 when a read-only token writes.
struct AuthMiddleware<Context: RequestContext>: RouterMiddleware {
    let tokens: AccessTokens

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let permissions = tokens.permissions(authorization: request.headers[.authorization]) else {
            throw MuxError.unauthorized
        }
        let reading = request.method == .get || request.method == .head
        guard permissions.contains(.write) || (reading && permissions.contains(.read)) else {
            throw MuxError.forbidden
        }
        return try await next(request, context)
    }
}
