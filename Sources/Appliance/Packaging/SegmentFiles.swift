import Foundation
#if canImport(Glibc)
import Glibc
#endif
import NIOCore

/// File operations of one stream directory (in tmpfs; a recording's on disk). Every file is written to
/// a temporary name in the same directory and renamed, so readers never see a partial segment or
/// playlist; only ``append(_:text:)`` grows a file in place.
struct SegmentFiles: Sendable {
    /// An error with the POSIX errno, e.g. ENOSPC.
    struct Failure: Error, CustomStringConvertible {
        var operation: String
        var path: String
        var errno: Int32
        var isOutOfSpace: Bool { errno == ENOSPC || errno == EDQUOT }
        var description: String { "\(operation) \(path): \(String(cString: strerror(errno)))" }
    }

    /// The stream's directory.
    let directory: String

    /// Creates the directory (and parents) if missing.
    func create() throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    /// Writes `bytes` to `name` atomically (temporary file + rename).
    func write(_ name: String, _ bytes: ByteBuffer) throws {
        let path = directory + "/" + name
        let temporary = directory + "/." + name + ".tmp"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw Failure(operation: "open", path: temporary, errno: errno) }
        let failure = Self.writeAll(fd, bytes, path: temporary)
        close(fd)
        if let failure {
            unlink(temporary)
            throw failure
        }
        guard rename(temporary, path) == 0 else {
            let error = Failure(operation: "rename", path: path, errno: errno)
            unlink(temporary)
            throw error
        }
    }

    /// Appends `text` to `name` (created when missing) in one write. A failed append is cut off
    /// again, so the file ends at its last whole append.
    func append(_ name: String, text: String) throws {
        let path = directory + "/" + name
        let fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw Failure(operation: "open", path: path, errno: errno) }
        defer { close(fd) }
        var info = stat()
        let size = fstat(fd, &info) == 0 ? info.st_size : -1
        if let failure = Self.writeAll(fd, ByteBuffer(string: text), path: path) {
            if size >= 0 { _ = ftruncate(fd, size) }
            throw failure
        }
    }

    /// Writes all of `bytes` to `fd`; the failure, if any.
    static func writeAll(_ fd: Int32, _ bytes: ByteBuffer, path: String) -> Failure? {
        bytes.withUnsafeReadableBytes { raw -> Failure? in
            var offset = 0
            while offset < raw.count {
                let written = Glibc.write(fd, raw.baseAddress! + offset, raw.count - offset)
                if written < 0 {
                    if errno == EINTR { continue }
                    return Failure(operation: "write", path: path, errno: errno)
                }
                offset += written
            }
            return nil
        }
    }

    /// Writes a text file atomically.
    func write(_ name: String, text: String) throws {
        try write(name, ByteBuffer(string: text))
    }

    /// Removes `name`; a missing file is fine.
    func remove(_ name: String) {
        unlink(directory + "/" + name)
    }

    /// Reads a whole file from tmpfs (segments are a few MB at most), or nil when it is missing.
    static func read(path: String) -> ByteBuffer? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0, info.st_size >= 0, info.st_size < 256 * 1024 * 1024 else { return nil }
        var buffer = ByteBuffer()
        let size = Int(info.st_size)
        let complete = buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: size) { raw in
            var offset = 0
            while offset < size {
                let count = Glibc.read(fd, raw.baseAddress! + offset, size - offset)
                if count < 0, errno == EINTR { continue }
                if count <= 0 { break }
                offset += count
            }
            return offset
        }
        return complete == size ? buffer : nil
    }

    /// The whole of `name`, or nil when it is missing.
    func read(_ name: String) -> ByteBuffer? {
        Self.read(path: directory + "/" + name)
    }

    /// The size of a regular file `name` in bytes; nil when it is missing.
    func size(_ name: String) -> Int64? {
        var info = stat()
        guard stat(directory + "/" + name, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else { return nil }
        return Int64(info.st_size)
    }

    /// When `name` was last written, in milliseconds since the epoch; nil when it is missing.
    func modificationTime(_ name: String) -> Int64? {
        var info = stat()
        guard stat(directory + "/" + name, &info) == 0 else { return nil }
        return Int64(info.st_mtim.tv_sec) * 1000 + Int64(info.st_mtim.tv_nsec) / 1_000_000
    }

    /// Names of the entries in the directory (empty if it does not exist).
    func names() -> [String] {
        (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
    }
}
