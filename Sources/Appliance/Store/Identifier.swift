/// Random identifiers in the shapes Mux uses: opaque IDs from an alphanumeric alphabet and
/// UUID-shaped stream keys. Drawn from the system's cryptographic generator.
enum Identifier {
    private static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")

    /// An opaque ID of `length` alphanumeric characters (default 32: about 190 bits).
    static func opaque(length: Int = 32) -> String {
        var generator = SystemRandomNumberGenerator()
        return String((0..<length).map { _ in alphabet[Int(generator.next(upperBound: UInt32(alphabet.count)))] })
    }

    /// An environment id in Mux's shape (`j0863n`): 8 lowercase letters and digits, about 41 bits.
    static func environmentID() -> String {
        var generator = SystemRandomNumberGenerator()
        let lower = Array("abcdefghijklmnopqrstuvwxyz0123456789")
        return String((0..<8).map { _ in lower[Int(generator.next(upperBound: UInt32(lower.count)))] })
    }

    /// A stream key: 128 random bits printed as a lowercase UUID (8-4-4-4-12 hex digits).
    static func streamKey() -> String {
        var generator = SystemRandomNumberGenerator()
        let hex = (0..<16).map { _ in UInt8.random(in: 0...255, using: &generator) }
            .map { String($0, radix: 16).leftPadded(to: 2) }
            .joined()
        let parts = [0..<8, 8..<12, 12..<16, 16..<20, 20..<32].map { range in
            String(hex[hex.index(hex.startIndex, offsetBy: range.lowerBound)..<hex.index(hex.startIndex, offsetBy: range.upperBound)])
        }
        return parts.joined(separator: "-")
    }
}

extension String {
    func leftPadded(to width: Int, with pad: Character = "0") -> String {
        count >= width ? self : String(repeating: pad, count: width - count) + self
    }
}
