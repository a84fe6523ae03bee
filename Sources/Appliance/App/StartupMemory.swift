#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// Gives back what only start-up needed, once the appliance is ready.
///
/// Start-up runs code from all over the binary (argument parsing, YAML, migrations, TLS set-up), and the
/// kernel's fault-around maps up to 64 KiB of neighbouring page-cache pages at every such fault: about
/// 24 MB of the executable's text ends up in the page tables while a few MB of it runs after READY.
/// `MADV_DONTNEED` on the executable's read-only text unmaps those pages; the page cache keeps them, so
/// the code the service does run comes back as minor faults. Only mappings with no private (written)
/// pages are touched: for them, dropping the mapping cannot lose data.
enum StartupMemory {
    /// Returns the bytes unmapped (0 when nothing qualified).
    @discardableResult
    static func release() -> Int {
        guard let executable = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe"),
              let smaps = try? String(contentsOfFile: "/proc/self/smaps", encoding: .utf8) else { return 0 }
        var released = 0
        for mapping in textMappings(smaps: smaps, executable: executable) {
            guard let start = UnsafeMutableRawPointer(bitPattern: mapping.lowerBound) else { continue }
            if madvise(start, mapping.count, MADV_DONTNEED) == 0 { released += mapping.count }
        }
        return released
    }

    /// The executable's `r-xp` mappings that hold no private copy of a page (Anonymous 0: never written), from smaps text.
    static func textMappings(smaps: String, executable: String) -> [Range<Int>] {
        var result: [Range<Int>] = []
        var candidate: Range<Int>?
        for line in smaps.split(separator: "\n", omittingEmptySubsequences: true) {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            if let first = fields.first, first.contains("-"), !first.hasSuffix(":") {
                // A mapping header: address range, permissions, offset, device, inode, path.
                candidate = nil
                let bounds = first.split(separator: "-")
                guard fields.count >= 6, fields[1] == "r-xp", fields[5...].joined(separator: " ") == executable,
                      bounds.count == 2, let low = Int(bounds[0], radix: 16), let high = Int(bounds[1], radix: 16),
                      low < high else { continue }
                candidate = low..<high
            } else if fields.first == "Anonymous:", let range = candidate {
                if fields.count >= 2, fields[1] == "0" { result.append(range) }
                candidate = nil
            }
        }
        return result
    }
}
