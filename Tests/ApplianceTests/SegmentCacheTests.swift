import Foundation
import NIOCore
import Testing
@testable import Appliance

@Suite struct SegmentCacheTests {
    let root = NSTemporaryDirectory() + "onair-segment-cache-\(UUID().uuidString)"

    func write(_ name: String, _ bytes: [UInt8]) throws -> String {
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        let path = root + "/" + name
        // A new file renamed into place, as the packager writes segments.
        try Data(bytes).write(to: URL(fileURLWithPath: path + ".tmp"))
        _ = rename(path + ".tmp", path)
        return path
    }

    @Test func repeatedReadsShareOneBufferAndAReplacedFileIsReadAgain() throws {
        defer { try? FileManager.default.removeItem(atPath: root) }
        let cache = SegmentCache(capacity: 1024)
        let path = try write("a-1.ts", [1, 2, 3])
        let first = try #require(cache.read(path))
        #expect(Array(first.readableBytesView) == [1, 2, 3])
        #expect(cache.bytes == first.capacity, "counted as allocated")
        let second = try #require(cache.read(path))
        first.withUnsafeReadableBytes { a in
            second.withUnsafeReadableBytes { b in #expect(a.baseAddress == b.baseAddress) }
        }
        _ = try write("a-1.ts", [9, 9, 9, 9])
        let replaced = try #require(cache.read(path))
        #expect(Array(replaced.readableBytesView) == [9, 9, 9, 9])
        #expect(cache.bytes == replaced.capacity && cache.paths == [path])
    }

    @Test func aDeletedSegmentIsNotServedFromMemory() throws {
        defer { try? FileManager.default.removeItem(atPath: root) }
        let cache = SegmentCache(capacity: 1024)
        let path = try write("a-2.ts", [7])
        #expect(cache.read(path) != nil)
        try FileManager.default.removeItem(atPath: path)
        #expect(cache.read(path) == nil)
        #expect(cache.read(root) == nil)  // a directory is not a segment
    }

    @Test func leastRecentlyUsedEntriesGoBeyondTheCapacity() throws {
        defer { try? FileManager.default.removeItem(atPath: root) }
        let a = try write("a.ts", Array(repeating: 1, count: 100))
        let each = try #require(SegmentFiles.read(path: a)).capacity
        let cache = SegmentCache(capacity: 4 * each)
        let b = try write("b.ts", Array(repeating: 2, count: 100))
        let c = try write("c.ts", Array(repeating: 3, count: 100))
        let d = try write("d.ts", Array(repeating: 4, count: 100))
        let e = try write("e.ts", Array(repeating: 5, count: 100))
        let big = try write("big.ts", Array(repeating: 6, count: 2 * each))
        for path in [a, b, c, d] { _ = cache.read(path) }
        _ = cache.read(a)  // a is now the most recent
        _ = cache.read(e)  // b goes
        #expect(cache.paths == [a, c, d, e])
        #expect(cache.bytes == 4 * each)
        #expect(cache.read(big)?.readableBytes == 2 * each)  // served, but over a quarter of the capacity: not kept
        #expect(cache.paths == [a, c, d, e])
    }
}
