// onair-fuzz TARGET [libFuzzer options] [corpus directories or files]
//
// One libFuzzer binary for every target (built only by `make fuzz`, with ONAIR_FUZZ=1). libFuzzer's
// own main is not linked (libclang_rt.fuzzer_no_main): this one takes the target name off the
// command line and hands the rest to LLVMFuzzerRunDriver (through CFuzzDriver, for the C ABI).
import CFuzzDriver
#if canImport(Glibc)
import Glibc
#endif

nonisolated(unsafe) var target = FuzzTarget.chunk

func fail(_ message: String) -> Never {
    var text = message + "\n"
    text.withUTF8 { _ = write(2, $0.baseAddress, $0.count) }
    exit(2)
}

let arguments = CommandLine.arguments
guard arguments.count >= 2, let chosen = FuzzTarget(rawValue: arguments[1]) else {
    fail("usage: onair-fuzz TARGET [libFuzzer options] [corpus...]\ntargets: \(FuzzTarget.allCases.map(\.rawValue).joined(separator: " "))")
}
target = chosen
// argv without the target name, NULL-terminated, as libFuzzer expects it.
var argv: [UnsafeMutablePointer<CChar>?] = [CommandLine.unsafeArgv[0]] + (2..<Int(CommandLine.argc)).map { CommandLine.unsafeArgv[$0] } + [nil]
var argc = Int32(argv.count - 1)
let status = argv.withUnsafeMutableBufferPointer { buffer -> Int32 in
    var pointer: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = buffer.baseAddress
    return onair_fuzz_run(&argc, &pointer) { data, size in
        target.run(UnsafeRawBufferPointer(start: data, count: size))
        return 0
    }
}
exit(status)
