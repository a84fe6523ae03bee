import NIOCore

/// `ftyp`, ISO/IEC 14496-12 §4.3: the brands a file conforms to. The CMAF header (ISO/IEC 23000-19
/// §7.3.2.1) and RFC 8216bis §3.1.2 ask for a brand compatible with `iso6`; `cmfc` declares the CMAF
/// track structure, `mp41` keeps older readers happy.
///
/// ```
/// major_brand (32) = iso6 | minor_version (32) = 0 | compatible_brands[] = iso6 cmfc mp41
/// ```
public struct FileTypeBox: Sendable, Equatable {
    public var majorBrand: FourCC = "iso6"
    public var minorVersion: UInt32 = 0
    public var compatibleBrands: [FourCC] = ["iso6", "cmfc", "mp41"]

    public init() {}

    public init(majorBrand: FourCC, minorVersion: UInt32 = 0, compatibleBrands: [FourCC]) {
        self.majorBrand = majorBrand
        self.minorVersion = minorVersion
        self.compatibleBrands = compatibleBrands
    }

    public func write(into buffer: inout ByteBuffer) {
        buffer.writeBox("ftyp") { body in
            body.writeInteger(majorBrand.rawValue)
            body.writeInteger(minorVersion)
            for brand in compatibleBrands { body.writeInteger(brand.rawValue) }
        }
    }
}
