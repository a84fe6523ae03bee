import ArgumentParser
import Foundation

#if !ONAIR_FUZZ
/// The process entry point (left out of the fuzzing build, where Appliance is a library).
@main
enum Entry {
    static func main() async { await Onair.main() }
}
#endif

/// The `onair` command line: `serve`, `check-config`, `streams ...`, `version`.
struct Onair: AsyncParsableCommand {
    static let version = "0.2.0"

    static let configuration = CommandConfiguration(
        commandName: "onair",
        abstract: "On-premises live streaming: RTMP in, HLS out, a Mux-compatible API.",
        version: version,
        subcommands: [Serve.self, CheckConfig.self, Streams.self, Webhooks.self, Version.self]
    )
}

/// The `--config FILE` option shared by every command that reads the configuration.
struct ConfigOption: ParsableArguments {
    @Option(name: .long, help: "Path to the YAML configuration file.")
    var config: String = "/etc/onair/onair.yaml"

    /// Loads the configuration or exits 78 (EX_CONFIG) with the error on stderr.
    func load() throws -> Config {
        do {
            return try ConfigLoader.load(path: config)
        } catch {
            FileHandle.standardError.write(Data("onair: \(config): \(error)\n".utf8))
            throw ExitCode(78)
        }
    }
}

struct CheckConfig: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check-config",
        abstract: "Validate a configuration file; exit 78 when it is not valid.")

    @OptionGroup var options: ConfigOption

    func run() throws {
        let config = try options.load()
        do {
            _ = try HTTPServers.tlsConfiguration(config.http)
        } catch {
            FileHandle.standardError.write(Data("onair: \(options.config): \(error)\n".utf8))
            throw ExitCode(78)
        }
        print("\(options.config): OK")
    }
}

struct Version: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Print the version.")
    func run() { print("onair \(Onair.version)") }
}
