/// A URL signing key (reference/mux-api.md §4.2): an RSA 2048 key pair whose private half went to
/// the application once, at creation; the appliance keeps the public half to verify playback tokens.
struct SigningKey: Sendable, Equatable {
    var id: String
    /// Unix seconds.
    var createdAt: Int64
    /// PEM, SubjectPublicKeyInfo.
    var publicKeyPEM: String
}
