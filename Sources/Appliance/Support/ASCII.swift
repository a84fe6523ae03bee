/// Byte classes of the ASCII names in URLs (playback IDs, segment names, tokens), checked on bytes,
/// not Characters, which would consult Unicode tables on every request.
enum ASCII {
    /// Letters and digits.
    static func isAlphanumeric(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
            || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
    }
}
