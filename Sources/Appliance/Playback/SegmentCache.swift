#if canImport(Glibc)
import Glibc
#endif
import NIOCore
import Synchronization

/// Segment bytes shared by every viewer of a live edge: the first request reads the file from tmpfs,
/// later ones get the same ByteBuffer (no open/read/copy per request) for as long as the file is still
/// the same (inode, size, modification time, checked with one `stat` per request, so a segment deleted
/// from the window stops being served at once). Least recently used entries go beyond `capacity` bytes
/// (counted as allocated: NIO rounds buffers up to a power of two).
/// Filled by viewers only: a stream nobody watches costs nothing here.
final class SegmentCache: Sendable {
    struct Identity: Equatable {
        var inode: UInt
        var size: Int
        var modified: timespec

        static func == (a: Identity, b: Identity) -> Bool {
            a.inode == b.inode && a.size == b.size && a.modified.tv_sec == b.modified.tv_sec && a.modified.tv_nsec == b.modified.tv_nsec
        }
    }

    private struct Entry {
        var identity: Identity
        var bytes: ByteBuffer
        var lastUse: UInt64
    }

    private struct State {
        var entries: [String: Entry] = [:]
        var bytes = 0
        var clock: UInt64 = 0
    }

    let capacity: Int
    private let state = Mutex(State())

    init(capacity: Int = 32 * 1024 * 1024) {
        self.capacity = capacity
    }

    /// Bytes held now.
    var bytes: Int { state.withLock { $0.bytes } }

    /// The paths held now.
    var paths: Set<String> { state.withLock { Set($0.entries.keys) } }

    /// The file's bytes, or nil when it does not exist (or cannot be read whole).
    func read(_ path: String) -> ByteBuffer? {
        var info = stat()
        guard stat(path, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else { return nil }
        let identity = Identity(inode: UInt(info.st_ino), size: Int(info.st_size), modified: info.st_mtim)
        let hit: ByteBuffer? = state.withLock { state in
            guard var entry = state.entries[path], entry.identity == identity else { return nil }
            state.clock += 1
            entry.lastUse = state.clock
            state.entries[path] = entry
            return entry.bytes
        }
        if let hit { return hit }
        guard let bytes = SegmentFiles.read(path: path), bytes.readableBytes == identity.size else { return nil }
        if bytes.capacity <= capacity / 4 { insert(path, Entry(identity: identity, bytes: bytes, lastUse: 0)) }
        return bytes
    }

    private func insert(_ path: String, _ entry: Entry) {
        state.withLock { state in
            state.clock += 1
            var entry = entry
            entry.lastUse = state.clock
            if let old = state.entries.updateValue(entry, forKey: path) { state.bytes -= old.bytes.capacity }
            state.bytes += entry.bytes.capacity
            while state.bytes > capacity, let oldest = state.entries.min(by: { $0.value.lastUse < $1.value.lastUse }) {
                state.bytes -= oldest.value.bytes.capacity
                state.entries[oldest.key] = nil
            }
        }
    }
}
