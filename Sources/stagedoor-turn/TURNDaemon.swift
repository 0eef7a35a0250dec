import ArgumentParser
import DaemonSupport
import TURNService

/// `stagedoor-turn`: the STUN/TURN server (RFC 8489, RFC 8656). Normally started by `stagedoor-supervisor`.
@main
struct TURNDaemon: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stagedoor-turn", abstract: "Stagedoor's STUN/TURN server (RFC 8489, RFC 8656).")

    @OptionGroup var options: DaemonOptions

    func run() async throws {
        let code = await Daemon.run(.turn, options: options) { configuration, logger in
            try TURNRelayService(configuration: configuration, logger: logger)
        }
        if code != 0 { throw ExitCode(code) }
    }
}
