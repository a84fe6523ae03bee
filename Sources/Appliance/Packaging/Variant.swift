/// A variant's attributes for EXT-X-STREAM-INF.
struct Variant: Sendable {
    var codecs: String
    var bandwidth: Int
    var averageBandwidth: Int
    var resolution: (width: Int, height: Int)?
    var frameRate: Double?
}
