import NIOCore

/// Reads ISO BMFF boxes (ISO/IEC 14496-12 §4.2) back: the test suite checks what the muxer wrote,
/// and a fuzz target feeds it garbage. Bounded: sizes must fit the parent, nesting is capped, and
/// only container boxes listed in ``containers`` are descended into.
///
/// ```
/// size (32) | type (32) [| largesize (64) when size == 1] | body;  size 0 = to the end of the parent
/// ```
public struct BoxReader: Sendable {
    /// One box: its type and body (after the header), and its children when it is a container.
    public struct Box: Sendable, Equatable {
        public var type: FourCC
        public var body: ByteBuffer
        public var children: [Box]

        /// The first descendant at `path` (types, outermost first), e.g. `["moov", "trak", "tkhd"]`.
        public func first(_ path: [FourCC]) -> Box? {
            guard let head = path.first else { return self }
            return children.first { $0.type == head }?.first(Array(path.dropFirst()))
        }

        /// Every child of `type`.
        public func all(_ type: FourCC) -> [Box] { children.filter { $0.type == type } }
    }

    /// What can be wrong with the input.
    public enum Failure: Error, Equatable, Sendable {
        case truncatedHeader(offset: Int)
        case sizeOutOfBounds(type: FourCC, size: UInt64, available: Int)
        case tooDeep(limit: Int)
        case tooManyBoxes(limit: Int)
    }

    /// Boxes whose body is only boxes (§8), plus the sample entries that end in boxes, with the
    /// bytes to skip first.
    public static let containers: [FourCC: Int] = [
        "moov": 0, "trak": 0, "mdia": 0, "minf": 0, "dinf": 0, "stbl": 0, "mvex": 0, "moof": 0, "traf": 0,
        "edts": 0, "udta": 0, "stsd": 8, "dref": 8, "avc1": 78, "hvc1": 78, "mp4a": 28,
    ]
    public static let maximumDepth = 12
    public static let maximumBoxes = 100_000

    /// Parses `bytes` as a sequence of boxes.
    public static func read(_ bytes: ByteBuffer) throws -> [Box] {
        var count = 0
        return try read(bytes, depth: 0, count: &count)
    }

    private static func read(_ bytes: ByteBuffer, depth: Int, count: inout Int) throws -> [Box] {
        guard depth <= maximumDepth else { throw Failure.tooDeep(limit: maximumDepth) }
        var rest = bytes
        var boxes: [Box] = []
        while rest.readableBytes > 0 {
            count += 1
            guard count <= maximumBoxes else { throw Failure.tooManyBoxes(limit: maximumBoxes) }
            let offset = bytes.readableBytes - rest.readableBytes
            guard let size32 = rest.readInteger(as: UInt32.self), let raw = rest.readInteger(as: UInt32.self) else {
                throw Failure.truncatedHeader(offset: offset)
            }
            let type = FourCC(rawValue: raw)
            var header = 8
            var size = UInt64(size32)
            if size32 == 1 {
                guard let large = rest.readInteger(as: UInt64.self) else { throw Failure.truncatedHeader(offset: offset) }
                size = large
                header = 16
            } else if size32 == 0 {
                size = UInt64(rest.readableBytes + header)
            }
            guard size >= UInt64(header), size - UInt64(header) <= UInt64(rest.readableBytes) else {
                throw Failure.sizeOutOfBounds(type: type, size: size, available: rest.readableBytes + header)
            }
            let body = rest.readSlice(length: Int(size) - header)!
            var children: [Box] = []
            if let skip = containers[type], body.readableBytes >= skip {
                children = try read(body.getSlice(at: body.readerIndex + skip, length: body.readableBytes - skip)!,
                                    depth: depth + 1, count: &count)
            }
            boxes.append(Box(type: type, body: body, children: children))
        }
        return boxes
    }
}
