import Foundation
import Hummingbird

/// Why an image request fails, in image.mux.com's shape: `{"code": N, "message": "..."}` with the
/// status (mux-api.md §3.2: 400 code 3 "Invalid parameter", 404 code 5 "Not Found"); the other
/// codes follow the same (gRPC) numbering. The message says what was wrong.
struct ImageError: Error, Equatable {
    var status: HTTPResponse.Status
    var code: Int
    var message: String

    static let notFound = ImageError(status: .notFound, code: 5, message: "Not Found")
    static let notActive = ImageError(status: .preconditionFailed, code: 9, message: "The live stream is not active")
    static let assetPreparing = ImageError(status: .preconditionFailed, code: 9, message: "The asset has no media yet")

    static func invalid(_ reason: String) -> ImageError { ImageError(status: .badRequest, code: 3, message: "Invalid parameter: \(reason)") }
    static func forbidden(_ reason: String) -> ImageError { ImageError(status: .forbidden, code: 7, message: reason) }
    static func unavailable(_ reason: String) -> ImageError { ImageError(status: .serviceUnavailable, code: 14, message: reason) }

    init(status: HTTPResponse.Status, code: Int, message: String) {
        self.status = status
        self.code = code
        self.message = message
    }

    /// A decoder's failure: busy 503 (retry), undecodable media 422, a decoder stopped by a limit 500.
    init(_ failure: ImageDecoder.Failure) {
        switch failure {
        case .busy: self = .unavailable(failure.description)
        case .undecodable: self.init(status: .unprocessableContent, code: 9, message: failure.description)
        case .failed: self.init(status: .internalServerError, code: 13, message: failure.description)
        }
    }

    var response: Response {
        var headers = HTTPFields()
        headers[.contentType] = "application/json"
        headers[.accessControlAllowOrigin] = "*"
        headers[.cacheControl] = "no-store"
        if status == .serviceUnavailable { headers[.retryAfter] = "1" }
        let body = (try? JSONEncoder().encode(Body(code: code, message: message))) ?? Data()
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: body)))
    }

    private struct Body: Encodable {
        var code: Int
        var message: String
    }
}
