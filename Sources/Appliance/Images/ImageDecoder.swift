import Dispatch
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
/// Each job runs under `prlimit`: an address-space limit (its memory), a CPU-time limit, a 2 MiB
/// thread stack, a file-size limit and no core dump; a job still running after `timeout` seconds is
/// killed. At most `jobs` run at once and `queue` more wait; beyond that a job is refused at once
/// (503), so a flood of image requests cannot pile up processes or stall anything else. The
/// picture is written to a private directory and read back; the process has no pipe to fill.
final class ImageDecoder: Sendable {
    struct Settings: Sendable, Equatable {
        var ffmpeg = "/usr/bin/ffmpeg"
        var prlimit = "/usr/bin/prlimit"
        var jobs = 2
        var queue = 32
        var timeout = 10.0
        var memoryBytes: Int64 = 1024 * 1024 * 1024
    }

    enum Failure: Error, Equatable, CustomStringConvertible {
        /// Too many jobs running and waiting.
        case busy
        /// ffmpeg ran and made no picture: the media cannot be decoded (its last error line).
        case undecodable(String)
        /// ffmpeg could not be run, or was stopped by a limit.
        case failed(String)

        var description: String {
            switch self {
            case .busy: "too many images are being made; try again"
            case .undecodable(let reason): "the video could not be decoded" + (reason.isEmpty ? "" : ": \(reason)")
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
    var isAvailable: Bool { FileManager.default.isExecutableFile(atPath: settings.ffmpeg) && FileManager.default.isExecutableFile(atPath: settings.prlimit) }

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
        let outcome = await BlockingWork.run { () -> Result<Process, Failure> in
            do {
                if let script = job.script { try script.write(toFile: name + ".ffconcat", atomically: false, encoding: .utf8) }
                _ = FileManager.default.createFile(atPath: name + ".log", contents: nil)
                let process = Process()
                process.executableURL = URL(fileURLWithPath: settings.prlimit)
                process.arguments = ["--as=\(settings.memoryBytes)", "--cpu=\(Int(settings.timeout.rounded(.up)))", "--stack=2097152",
                                     "--fsize=\(ImageJob.maximumOutputBytes + 1024 * 1024)", "--core=0", "--", settings.ffmpeg]
                    + job.arguments(output: name + ".out", script: name + ".ffconcat")
                // glibc reserves 64 MiB of address space per thread's malloc arena: two are enough.
                process.environment = ["MALLOC_ARENA_MAX": "2", "PATH": "/usr/bin:/bin"]
                process.standardInput = FileHandle.nullDevice
                process.standardOutput = FileHandle.nullDevice
                process.standardError = FileHandle(forWritingAtPath: name + ".log")
                return .success(process)
            } catch {
                return .failure(.failed("cannot prepare the decoder: \(error)"))
            }
        }
        let process: Process
        switch outcome {
        case .success(let made): process = made
        case .failure(let failure):
            Self.count("failed")
            throw failure
        }
        let started = ContinuousClock.now
        let status = await Self.exit(of: process, timeout: settings.timeout)
        let result = await BlockingWork.run { () -> (bytes: Data?, log: String) in
            let bytes = FileManager.default.contents(atPath: name + ".out")
            let log = FileManager.default.contents(atPath: name + ".log").map { String(decoding: $0.prefix(4096), as: UTF8.self) } ?? ""
            for suffix in [".out", ".log", ".ffconcat"] { unlink(name + suffix) }
            return (bytes, log)
        }
        // The last line says most (ffmpeg ends on what stopped it).
        let lastError = result.log.split(separator: "\n").last.map { String($0.prefix(200)) } ?? ""
        let elapsed = ContinuousClock.now - started
        switch status {
        case .exited(0) where (result.bytes?.count ?? 0) > 0:
            logger.debug("image made", metadata: ["elapsed": "\(elapsed)", "bytes": "\(result.bytes!.count)"])
            Self.count("made")
            Metrics.Timer(label: MetricsRegistry.imageDecodeTime).recordNanoseconds(Int64(elapsed.components.seconds) * 1_000_000_000
                                                                                  + Int64(elapsed.components.attoseconds / 1_000_000_000))
            return ByteBuffer(bytes: result.bytes!)
        case .exited(0), .exited(1):
            logger.info("image decode failed", metadata: ["error": "\(lastError)"])
            Self.count("undecodable")
            throw .undecodable(lastError)
        case .exited(let code):
            logger.warning("ffmpeg failed", metadata: ["status": "\(code)", "error": "\(lastError)"])
            Self.count(code == 127 || code == 126 ? "failed" : "undecodable")
            throw code == 127 || code == 126 ? .failed("ffmpeg is not installed") : .undecodable(lastError)
        case .killed(let signal, let timedOut):
            logger.warning("ffmpeg stopped", metadata: ["signal": "\(signal)", "timed_out": "\(timedOut)", "error": "\(lastError)"])
            Self.count("killed")
            throw .failed(timedOut || signal == SIGXCPU ? "decoding took too long" : "the decoder crashed (signal \(signal))")
        case .notStarted(let reason):
            logger.error("cannot start ffmpeg", metadata: ["error": "\(reason)"])
            Self.count("failed")
            throw .failed("the decoder could not be started")
        }
    }

    private static func count(_ result: String) {
        Counter(label: MetricsRegistry.imageDecodes, dimensions: [("result", result)]).increment()
    }

    private enum Exit: Sendable {
        case exited(Int32)
        case killed(Int32, timedOut: Bool)
        case notStarted(String)
    }

    /// What the termination handler and the deadline share.
    private final class Watch: Sendable {
        let ended = Atomic<Bool>(false)
        let timedOut = Atomic<Bool>(false)
    }

    /// Starts `process` and waits for it to end; after `timeout` seconds it is killed (SIGKILL).
    /// Starting it is one posix_spawn, done in place.
    private static func exit(of process: Process, timeout: Double) async -> Exit {
        let watch = Watch()
        let started: Result<Void, any Error> = await withCheckedContinuation { (ended: CheckedContinuation<Result<Void, any Error>, Never>) in
            process.terminationHandler = { _ in
                if !watch.ended.exchange(true, ordering: .acquiringAndReleasing) { ended.resume(returning: .success(())) }
            }
            do {
                try process.run()
            } catch {
                if !watch.ended.exchange(true, ordering: .acquiringAndReleasing) { ended.resume(returning: .failure(error)) }
                return
            }
            let pid = process.processIdentifier
            DispatchQueue.global().asyncAfter(deadline: .now() + timeout) {
                // Not reaped yet (the handler runs after waitpid), so the pid is still this process's.
                guard !watch.ended.load(ordering: .acquiring) else { return }
                watch.timedOut.store(true, ordering: .releasing)
                kill(pid, SIGKILL)
            }
        }
        if case .failure(let error) = started { return .notStarted("\(error)") }
        switch process.terminationReason {
        case .exit: return .exited(process.terminationStatus)
        case .uncaughtSignal: return .killed(process.terminationStatus, timedOut: watch.timedOut.load(ordering: .acquiring))
        @unknown default: return .exited(process.terminationStatus)
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

extension ImageDecoder.Settings {
    init(_ images: Config.Images) {
        self.init(ffmpeg: images.ffmpeg, jobs: images.jobs, queue: images.queue, timeout: images.timeout, memoryBytes: images.maxMemory)
    }
}
