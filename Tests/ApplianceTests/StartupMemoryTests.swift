import Foundation
import Testing
@testable import Appliance

@Suite struct StartupMemoryTests {
    @Test func startupTrimPicksOnlyTheExecutablesUnwrittenText() {
        let smaps = """
        55d0c0000000-55d0c2000000 r-xp 00000000 fe:01 1234   /usr/bin/onair
        Size:              32768 kB
        Anonymous:             0 kB
        55d0c2000000-55d0c2100000 r--p 02000000 fe:01 1234   /usr/bin/onair
        Anonymous:            12 kB
        55d0c2100000-55d0c2200000 r-xp 02100000 fe:01 1234   /usr/bin/onair
        Anonymous:             4 kB
        7f0000000000-7f0000100000 r-xp 00000000 fe:01 99     /usr/lib/x86_64-linux-gnu/libc.so.6
        Anonymous:             0 kB
        7f0000200000-7f0000300000 rw-p 00000000 00:00 0
        Anonymous:             0 kB
        """
        #expect(StartupMemory.textMappings(smaps: smaps, executable: "/usr/bin/onair") == [0x55d0c0000000..<0x55d0c2000000])
    }

    @Test func theRunningTestBinaryCanDropItsOwnTextAndKeepRunning() throws {
        // The code unmapped here, this test's included, faults back in from the page cache.
        let before = try Self.residentFileKiB()
        let released = StartupMemory.release()
        let after = try Self.residentFileKiB()
        #expect(released > 0)
        #expect(after < before, "file-backed resident memory went from \(before) KiB to \(after) KiB")
    }

    /// RssFile of /proc/self/status: resident pages backed by files (the executable's text among them).
    static func residentFileKiB() throws -> Int {
        let status = try String(contentsOfFile: "/proc/self/status", encoding: .utf8)
        let line = try #require(status.split(separator: "\n").first { $0.hasPrefix("RssFile:") })
        return try #require(Int(line.split(separator: " ", omittingEmptySubsequences: true)[1]))
    }
}
