import ArgumentParser
import DaemonSupport
import SIPService

/// `stagedoor-sip`: the SIP edge proxy (RFC 3261, RFC 7118). Normally started by `stagedoor-supervisor`.
@main
struct SIPDaemon: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stagedoor-sip", abstract: "Stagedoor's SIP edge proxy (RFC 3261, RFC 7118).")

    @OptionGroup var options: DaemonOptions

    func run() async throws {
        let code = await Daemon.run(.sip, options: options) { configuration, logger in
            try SIPProxyService(configuration: configuration, logger: logger)
        }
        if code != 0 { throw ExitCode(code) }
    }
}
