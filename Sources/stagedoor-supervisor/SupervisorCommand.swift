import ArgumentParser
import DaemonSupport
import Foundation
import Supervision

/// `stagedoor-supervisor`: starts the daemons in order, watches them, restarts them, stops
/// them. Usually started by `stagedoor start` or by systemd (`Type=notify`).
@main
struct SupervisorCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stagedoor-supervisor", abstract: "Runs and watches Stagedoor's daemons.")

    @Option(name: .long, help: "The configuration file.")
    var config: String = ConfigurationLocation.defaultPath()

    @Option(name: .customLong("runtime-dir"), help: "Overrides runtime_dir from the configuration.")
    var runtimeDirectory: String?

    @Option(name: .customLong("daemon-dir"), help: "Where the daemon executables are (default: beside this one).")
    var daemonDirectory: String?

    func run() async throws {
        let code = await SupervisorProgram.run(
            configPath: URL(fileURLWithPath: config).standardizedFileURL.path,
            runtimeOverride: runtimeDirectory.map { URL(fileURLWithPath: $0).standardizedFileURL.path },
            daemonDirectory: daemonDirectory ?? ExecutableLocation.directory())
        if code != 0 { throw ExitCode(code) }
    }
}
