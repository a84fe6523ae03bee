// swift-tools-version:6.2
import PackageDescription

/// `make fuzz` builds with ONAIR_FUZZ=1: Appliance becomes a library so the libFuzzer driver
/// (Tests/Fuzz) can call its parsers, and our own modules get coverage and address sanitizer
/// instrumentation (the dependencies stay uninstrumented).
let fuzzing = Context.environment["ONAIR_FUZZ"] == "1"
let fuzzFlags: [SwiftSetting] = fuzzing ? [.define("ONAIR_FUZZ"), .unsafeFlags(["-sanitize=fuzzer,address"])] : []

let applianceDependencies: [Target.Dependency] = [
    "Media",
    .product(name: "NIOCore", package: "swift-nio"),
    .product(name: "NIOPosix", package: "swift-nio"),
    .product(name: "ArgumentParser", package: "swift-argument-parser"),
    .product(name: "Logging", package: "swift-log"),
    .product(name: "GRDB", package: "GRDB.swift"),
    .product(name: "Yams", package: "Yams"),
    .product(name: "Hummingbird", package: "hummingbird"),
    .product(name: "HummingbirdHTTP2", package: "hummingbird"),
    .product(name: "NIOHTTP2", package: "swift-nio-http2"),
    .product(name: "NIOSSL", package: "swift-nio-ssl"),
    .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
    .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
    .product(name: "UnixSignals", package: "swift-service-lifecycle"),
    .product(name: "Metrics", package: "swift-metrics"),
    .product(name: "Prometheus", package: "swift-prometheus"),
    .product(name: "Crypto", package: "swift-crypto"),
    .product(name: "CryptoExtras", package: "swift-crypto"),
    .product(name: "AsyncHTTPClient", package: "async-http-client"),
    .product(name: "CompressNIO", package: "compress-nio"),
    "CSystemd",
]
// Release: no run-time exclusivity checks here either (swift_beginAccess took 7 % of a playlist
// request on the fast path); debug builds, tests and the fuzzer keep them.
let applianceSettings: [SwiftSetting] = [.define("ONAIR_FAULTS", .when(configuration: .debug)),
                                         .unsafeFlags(["-enforce-exclusivity=unchecked"], .when(configuration: .release))] + fuzzFlags
// The appliance: config, store, ingest, packaging, CLI. Product name `onair`.
let appliance: Target = fuzzing
    ? .target(name: "Appliance", dependencies: applianceDependencies, swiftSettings: applianceSettings)
    : .executableTarget(name: "Appliance", dependencies: applianceDependencies, swiftSettings: applianceSettings)

let package = Package(
    name: "onair",
    platforms: [.macOS(.v14)],
    products: [
        fuzzing ? .executable(name: "onair-fuzz", targets: ["OnairFuzz"]) : .executable(name: "onair", targets: ["Appliance"]),
        .library(name: "Media", targets: ["Media"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.0"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.0"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.0"),
        .package(url: "https://github.com/groue/GRDB.swift.git", from: "7.10.0"),
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.2.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.0"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.0"),
        .package(url: "https://github.com/apple/swift-nio-http2.git", from: "1.46.0"),
        .package(url: "https://github.com/apple/swift-nio-extras.git", from: "1.35.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.0"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "4.0.0"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        .package(url: "https://github.com/adam-fowler/compress-nio.git", from: "1.5.0"),
    ],
    targets: [
        // Pure media core: codecs, containers, RTMP and HLS. No I/O, no clocks, no logging.
        .target(
            name: "Media",
            dependencies: [.product(name: "NIOCore", package: "swift-nio")],
            // Release: no run-time exclusivity checks (swift_beginAccess on every inlined ByteBuffer
            // write took 5 % of the remux CPU). Debug builds, tests and the fuzzer keep them.
            swiftSettings: fuzzFlags + [.unsafeFlags(["-enforce-exclusivity=unchecked"], .when(configuration: .release))]
        ),
        // libsystemd's sd-daemon (sd_notify, watchdog); libsystemd-dev at build time.
        .systemLibrary(name: "CSystemd", pkgConfig: "libsystemd", providers: [.apt(["libsystemd-dev"])]),
        appliance,
    ] + (fuzzing ? [
        // libFuzzer driver: `onair-fuzz TARGET [libFuzzer options] [corpus...]`.
        .target(name: "CFuzzDriver", path: "Tests/Fuzz/CFuzzDriver"),
        .executableTarget(
            name: "OnairFuzz",
            dependencies: ["Media", "Appliance", "CFuzzDriver", .product(name: "NIOCore", package: "swift-nio")],
            path: "Tests/Fuzz/Sources",
            swiftSettings: fuzzFlags,
            linkerSettings: [.unsafeFlags(["-sanitize=address"]), .linkedLibrary("stdc++")]
        ),
    ] : [
        .testTarget(
            name: "MediaTests",
            dependencies: ["Media", .product(name: "NIOCore", package: "swift-nio")]
        ),
        .testTarget(
            name: "ApplianceTests",
            dependencies: ["Appliance", "Media", .product(name: "NIOCore", package: "swift-nio"),
                           .product(name: "NIOEmbedded", package: "swift-nio"),
                           .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                           .product(name: "HummingbirdTesting", package: "hummingbird"),
                           .product(name: "CompressNIO", package: "compress-nio"),
                           .product(name: "CryptoExtras", package: "swift-crypto")]
        ),
    ]),
    swiftLanguageModes: [.v6]
)
