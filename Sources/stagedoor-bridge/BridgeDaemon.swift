import ArgumentParser
import BridgeService
import DaemonSupport

/// `stagedoor-bridge`: the WebRTC to RTP audio bridge. Normally started by `stagedoor-supervisor`.
@main
struct BridgeDaemon: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stagedoor-bridge", abstract: "Stagedoor's WebRTC to RTP audio bridge.")

    @OptionGroup var options: DaemonOptions

    func run() async throws {
        let code = await Daemon.run(.bridge, options: options) { configuration, logger in
            try BridgeService(configuration: configuration, logger: logger)
        }
        if code != 0 { throw ExitCode(code) }
    }
}
