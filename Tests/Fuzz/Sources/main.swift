// onair-fuzz TARGET [libFuzzer options] [corpus directories or files]
//
// One libFuzzer binary for every target (built only by `make fuzz`, with ONAIR_FUZZ=1). libFuzzer's
// own main is not linked (libclang_rt.fuzzer_no_main): this one takes the target name off the
// command line and hands the rest to LLVMFuzzerRunDriver.
#if canImport(Glibc)
import Glibc
#endif

typealias FuzzCallback = @convention(c) (UnsafePointer<UInt8>?, Int) -> Int32
typealias FuzzDriver = @convention(c) (UnsafeMutablePointer<Int32>, UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>, FuzzCallback) -> Int32

nonisolated(unsafe) var target = FuzzTarget.chunk

let arguments = CommandLine.arguments
guard arguments.count >= 2, let chosen = FuzzTarget(rawValue: arguments[1]) else {
    fputs("usage: onair-fuzz TARGET [libFuzzer options] [corpus...]\ntargets: \(FuzzTarget.allCases.map(\.rawValue).joined(separator: " "))\n", stderr)
    exit(2)
}
target = chosen
guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "LLVMFuzzerRunDriver") else {
    fputs("onair-fuzz: LLVMFuzzerRunDriver is missing (link libclang_rt.fuzzer_no_main)\n", stderr)
    exit(2)
}
let driver = unsafeBitCast(symbol, to: FuzzDriver.self)
// argv without the target name, NULL-terminated, as libFuzzer expects it.
var argv: [UnsafeMutablePointer<CChar>?] = [CommandLine.unsafeArgv[0]] + (2..<Int(CommandLine.argc)).map { CommandLine.unsafeArgv[$0] } + [nil]
var argc = Int32(argv.count - 1)
let status = argv.withUnsafeMutableBufferPointer { buffer -> Int32 in
    var pointer: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = buffer.baseAddress
    return driver(&argc, &pointer) { data, size in
        target.run(UnsafeRawBufferPointer(start: data, count: size))
        return 0
    }
}
exit(status)
