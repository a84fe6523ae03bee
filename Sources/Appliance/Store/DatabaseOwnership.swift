#if canImport(Glibc)
import Glibc
#endif

/// When root runs `onair streams ...` on the service's database, SQLite may create the database,
/// its -wal and -shm files owned by root, and the service (user onair) could no longer write them.
/// Give them to the owner of the directory they live in.
enum DatabaseOwnership {
    static func matchDirectory(of path: String) {
        guard geteuid() == 0 else { return }
        let directory = path.contains("/") ? String(path[..<path.lastIndex(of: "/")!]) : "."
        var owner = stat()
        guard stat(directory.isEmpty ? "/" : directory, &owner) == 0, owner.st_uid != 0 else { return }
        for file in [path, path + "-wal", path + "-shm"] {
            var info = stat()
            if stat(file, &info) == 0, info.st_uid != owner.st_uid || info.st_gid != owner.st_gid {
                _ = chown(file, owner.st_uid, owner.st_gid)
            }
        }
    }
}
