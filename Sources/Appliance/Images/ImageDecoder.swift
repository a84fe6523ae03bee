import Foundation
import Logging
import Metrics
import NIOCore
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Runs ``ImageJob``s in ffmpeg processes (Debian's `ffmpeg` program, not its libraries linked in):
/// a hostile bitstream that crashes or hangs a decoder kills one process, never the appliance.
///
/// Each job runs under `timeout` (killed when still running after `timeout` seconds), `nice -n 10`
/// and `prlimit`: an address-space limit (its memory), a CPU-time limit, a 2 MiB thread stack, a
/// file-size limit and no core dump. At most `jobs` run at once and `queue` more wait; beyond that a job is refused at once
/// (503), so a flood of image requests cannot pile up processes or stall anything else. The
/// picture is written to a private directory and read back; the process has no pipe to fill.
final class ImageDecoder: Sendable {
    struct Settings: Sendable, Equatable {
        var ffmpeg = "/usr/bin/ffmpeg"
        var prlimit = "/usr/bin/prlimit"
        var timeoutProgram = "/usr/bin/timeout"
        var jobs = 2
        var queue = 32
        var timeout = 10.0
        var memoryBytes: Int64 = 1024 * 1024 * 1024
    }

    enum Failure: Error, Equatable, CustomStringConvertible {
        /// Too many jobs running and waiting.
        case busy
        /// ffmpeg ran and made no picture: the media cannot be decoded (what ffmpeg said is logged, not
        /// answered: it names files).
        case undecodable
        /// ffmpeg could not be run, or was stopped by a limit.
        case failed(String)

        var description: String {
            switch self {
            case .busy: "too many images are being made; try again"
            case .undecodable: "the video could not be decoded"
            case .failed(let reason): reason
            }
        }
    }

    let settings: Settings
    private let directory: String
    private let logger: Logger
    private let slots: Mutex<Slots>
    private let sequence = Atomic<Int>(0)

    private struct Slots {
        var running = 0
        var waiting: [CheckedContinuation<Void, Never>] = []
    }

    /// `directory`: where pictures are written before they are read back (made private, emptied).
    init(settings: Settings, directory: String, logger: Logger) {
        self.settings = settings
        self.directory = directory
        self.logger = logger
        self.slots = Mutex(Slots())
        try? FileManager.default.removeItem(atPath: directory)
        try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
    }

    /// Whether ffmpeg is installed (for `check-config` and the log at start).
    var isAvailable: Bool {
        [settings.ffmpeg, settings.prlimit, settings.timeoutProgram, "/usr/bin/nice"].allSatisfy { FileManager.default.isExecutableFile(atPath: $0) }
    }

    /// The picture `job` makes.
    func run(_ job: ImageJob) async throws(Failure) -> ByteBuffer {
        do {
            try await acquire()
        } catch {
            Self.count("busy")
            throw error
        }
        defer { release() }
        let name = directory + "/job-\(sequence.add(1, ordering: .relaxed).newValue)"
        let settings = settings
        let started = ContinuousClock.now
        let watch = Watch()
        // Prepared and started (one posix_spawn) off the Swift-concurrency pool.
        let spawned = await BlockingWork.run { () -> String? in
            do {
                if let script = job.script { try script.write(toFile: name + ".ffconcat", atomically: false, encoding: .utf8) }
                _ = FileManager.default.createFile(atPath: name + ".log", contents: nil)
                let process = Process()
                process.executableURL = URL(fileURLWithPath: settings.timeoutProgram)
                process.arguments = Self.command(settings) + job.arguments(output: name + ".out", script: name + ".ffconcat")
                // glibc reserves 64 MiB of address space per thread's malloc arena: two are enough.
                process.environment = ["MALLOC_ARENA_MAX": "2", "PATH": "/usr/bin:/bin"]
                process.standardInput = FileHandle.nullDevice
                process.standardOutput = FileHandle.nullDevice
                process.standardError = FileHandle(forWritingAtPath: name + ".log")
                process.terminationHandler = { process in
                    watch.ended(process.terminationReason == .uncaughtSignal ? .killed(process.terminationStatus) : .exited(process.terminationStatus))
                }
                try process.run()
                return nil
            } catch {
                return "\(error)"
            }
        }
        if let spawned {
            logger.error("cannot start the image decoder", metadata: ["error": "\(spawned)"])
            Self.count("failed")
            _ = await BlockingWork.run { for suffix in [".out", ".log", ".ffconcat"] { unlink(name + suffix) } }
            throw .failed("the decoder could not be started")
        }
        let status = await watch.exit()
        let result = await BlockingWork.run { () -> (bytes: Data?, log: String) in
            let bytes = FileManager.default.contents(atPath: name + ".out")
            let log = FileManager.default.contents(atPath: name + ".log").map { String(decoding: $0.prefix(4096), as: UTF8.self) } ?? ""
            for suffix in [".out", ".log", ".ffconcat"] { unlink(name + suffix) }
            return (bytes, log)
        }
        // The last line says most (ffmpeg ends on what stopped it). For the log only: it names files.
        let lastError = result.log.split(separator: "\n").last.map { String($0.prefix(200)) } ?? ""
        let elapsed = ContinuousClock.now - started
        switch status {
        case .exited(0) where (result.bytes?.count ?? 0) > 0:
            logger.debug("image made", metadata: ["elapsed": "\(elapsed)", "bytes": "\(result.bytes!.count)"])
            Self.count("made")
            Metrics.Timer(label: MetricsRegistry.imageDecodeTime).recordNanoseconds(Int64(elapsed.components.seconds) * 1_000_000_000
                                                                                  + Int64(elapsed.components.attoseconds / 1_000_000_000))
            return ByteBuffer(bytes: result.bytes!)
        case .exited(124):
            logger.warning("image decoder killed at its time limit", metadata: ["timeout": "\(settings.timeout)", "error": "\(lastError)"])
            Self.count("killed")
            throw .failed("decoding took too long")
        case .exited(125), .exited(126), .exited(127):
            logger.error("image decoder could not run", metadata: ["ffmpeg": "\(settings.ffmpeg)", "error": "\(lastError)"])
            Self.count("failed")
            throw .failed("the decoder could not be run (is ffmpeg installed?)")
        case .exited(let code):
            logger.info("image decode failed", metadata: ["status": "\(code)", "error": "\(lastError)"])
            Self.count("undecodable")
            throw .undecodable
        case .killed(let signal):
            logger.warning("image decoder stopped", metadata: ["signal": "\(signal)", "error": "\(lastError)"])
            Self.count("killed")
            throw .failed(signal == SIGXCPU || signal == SIGKILL ? "decoding took too long" : "the decoder crashed (signal \(signal))")
        }
    }

    /// What runs ffmpeg: coreutils' `timeout` (it kills its own child at the deadline, so no pid can have
    /// been reused), `nice` (decodes yield the CPU to ingest and playback), then util-linux's `prlimit`.
    static func command(_ settings: Settings) -> [String] {
        ["--signal=KILL", "\(settings.timeout)", "/usr/bin/nice", "-n", "10", settings.prlimit,
         "--as=\(settings.memoryBytes)", "--cpu=\(Int(settings.timeout.rounded(.up)))", "--stack=2097152",
         "--fsize=\(ImageJob.maximumOutputBytes + 1024 * 1024)", "--core=0", "--", settings.ffmpeg]
    }

    private static func count(_ result: String) {
        Counter(label: MetricsRegistry.imageDecodes, dimensions: [("result", result)]).increment()
    }

    private enum Exit: Sendable {
        case exited(Int32)
        case killed(Int32)
    }

    /// The process's end, as its termination handler reports it and the job waits for it (either first).
    private final class Watch: Sendable {
        private enum State { case running, ended(Exit), waiting(CheckedContinuation<Exit, Never>) }
        private let state = Mutex(State.running)

        func ended(_ exit: Exit) {
            let waiter = state.withLock { state -> CheckedContinuation<Exit, Never>? in
                if case .waiting(let waiter) = state { state = .ended(exit); return waiter }
                state = .ended(exit)
                return nil
            }
            waiter?.resume(returning: exit)
        }

        func exit() async -> Exit {
            await withCheckedContinuation { (waiter: CheckedContinuation<Exit, Never>) in
                let done = state.withLock { state -> Exit? in
                    if case .ended(let exit) = state { return exit }
                    state = .waiting(waiter)
                    return nil
                }
                if let done { waiter.resume(returning: done) }
            }
        }
    }

    private func acquire() async throws(Failure) {
        enum Admission { case run, wait, refuse }
        let admission = slots.withLock { slots -> Admission in
            if slots.running < settings.jobs { slots.running += 1; return .run }
            return slots.waiting.count < settings.queue ? .wait : .refuse
        }
        switch admission {
        case .run: return
        case .refuse: throw .busy
        case .wait:
            await withCheckedContinuation { (turn: CheckedContinuation<Void, Never>) in
                let now = slots.withLock { slots -> Bool in
                    // A slot may have come free in between.
                    if slots.running < settings.jobs { slots.running += 1; return true }
                    slots.waiting.append(turn)
                    return false
                }
                if now { turn.resume() }
            }
        }
    }

    /// Hands the slot to the next waiting job, or frees it.
    private func release() {
        let next = slots.withLock { slots -> CheckedContinuation<Void, Never>? in
            if slots.waiting.isEmpty { slots.running -= 1; return nil }
            return slots.waiting.removeFirst()
        }
        next?.resume()
    }
}
