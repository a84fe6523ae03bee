import Foundation
import Hummingbird

/// Mux's signing-keys API (reference/mux-api.md §4.2), under `/system/v1/signing-keys` and the
/// deprecated `/video/v1/signing-keys` (mux-python's `URLSigningKeysApi`), same shapes on both:
/// create (201, the private key once, as base64 of its PEM), list (`limit`, `page`), get (no private
/// key), delete (204).
struct SigningKeysController: Sendable {
    let signing: PlaybackSigning

    func register<Context: RequestContext>(on group: RouterGroup<Context>) {
        group.post("signing-keys") { request, _ in
            let (key, privateKeyPEM) = try await signing.create()
            return try APIResponse.envelope(SigningKeyJSON(key, privateKeyPEM: privateKeyPEM), status: .created)
        }
        group.get("signing-keys") { request, _ in
            let query = request.uri.queryParameters
            let limit = try APIResponse.integer(query.get("limit"), name: "limit", range: 1...100) ?? 25
            let page = try APIResponse.integer(query.get("page"), name: "page", range: 1...Int.max) ?? 1
            return try APIResponse.envelope(try await signing.keys(limit: limit, page: page).map { SigningKeyJSON($0) })
        }
        group.get("signing-keys/:signing_key_id") { _, context in
            guard let key = try await signing.key(id: try context.parameters.require("signing_key_id")) else { throw MuxError.notFound }
            return try APIResponse.envelope(SigningKeyJSON(key))
        }
        group.delete("signing-keys/:signing_key_id") { _, context in
            guard try await signing.delete(id: try context.parameters.require("signing_key_id")) else { throw MuxError.notFound }
            return Response(status: .noContent)
        }
    }
}

/// A signing key as Mux returns it: `created_at` is a string of Unix seconds; `private_key` only at creation.
struct SigningKeyJSON: Encodable {
    let id: String
    let createdAt: String
    let privateKey: String?

    init(_ key: SigningKey, privateKeyPEM: String? = nil) {
        id = key.id
        createdAt = String(key.createdAt)
        privateKey = privateKeyPEM.map { Data($0.utf8).base64EncodedString() }
    }

    private enum CodingKeys: String, CodingKey {
        case id, createdAt = "created_at", privateKey = "private_key"
    }

    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(id, forKey: .id)
        try c.encode(createdAt, forKey: .createdAt)
        try c.encodeIfPresent(privateKey, forKey: .privateKey)
    }
}
