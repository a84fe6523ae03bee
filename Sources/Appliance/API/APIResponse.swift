import Foundation
import Hummingbird

/// What every API controller answers with: Mux's `{"data": ...}` envelope, its query checks and a
/// bounded body.
enum APIResponse {
    /// `{"data": value}`; with `nextCursor`, also `"next_cursor": null` (List Assets: onair pages by `page`).
    static func envelope<T: Encodable>(_ value: T, status: HTTPResponse.Status = .ok, nextCursor: Bool = false) throws -> Response {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .withoutEscapingSlashes
        var headers = HTTPFields()
        headers[.contentType] = "application/json"
        let body = nextCursor ? try encoder.encode(PagedEnvelope(data: value)) : try encoder.encode(Envelope(data: value))
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: body)))
    }

    /// An integer query parameter within `range`; nil when absent.
    static func integer(_ text: String?, name: String, range: ClosedRange<Int>) throws -> Int? {
        guard let text else { return nil }
        guard let value = Int(text), range.contains(value) else {
            throw MuxError.invalid(range.upperBound == .max ? "\(name) must be an integer of at least \(range.lowerBound)"
                                   : "\(name) must be an integer between \(range.lowerBound) and \(range.upperBound)")
        }
        return value
    }

    /// The request body, at most `limit` bytes (payload_too_large beyond).
    static func collect(_ request: Request, upTo limit: Int) async throws -> ByteBuffer {
        do {
            return try await request.body.collect(upTo: limit)
        } catch let error as HTTPResponseError where error.status == .contentTooLarge {
            throw MuxError.tooLarge(limit: limit)
        }
    }
}

/// Mux's success envelope.
private struct Envelope<Value: Encodable>: Encodable {
    let data: Value
}

/// List Assets' envelope: `next_cursor` is null (the last page by cursor; onair pages by `page`).
private struct PagedEnvelope<Value: Encodable>: Encodable {
    let data: Value

    private enum Key: String, CodingKey { case data, next_cursor }

    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: Key.self)
        try c.encode(data, forKey: .data)
        try c.encodeNil(forKey: .next_cursor)
    }
}
