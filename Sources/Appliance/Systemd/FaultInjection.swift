import Foundation
import Logging
import NIOCore
import NIOPosix

/// Test-only faults, compiled into debug builds only (`ONAIR_FAULTS`); release builds have none.
///
/// `ONAIR_FAULT_BLOCK_EVENT_LOOP_AFTER=<seconds>` blocks one NIO event loop for good after that
/// long, so tests can prove the watchdog stops pinging.
enum FaultInjection {
    static func armFromEnvironment(logger: Logger) {
        #if ONAIR_FAULTS
        guard let text = ProcessInfo.processInfo.environment["ONAIR_FAULT_BLOCK_EVENT_LOOP_AFTER"], let seconds = Double(text) else { return }
        logger.warning("fault injection armed: an event loop will block", metadata: ["after": "\(seconds)"])
        MultiThreadedEventLoopGroup.singleton.next().scheduleTask(in: .milliseconds(Int64(seconds * 1000))) {
            while true { sleep(3600) }
        }
        #endif
    }
}
