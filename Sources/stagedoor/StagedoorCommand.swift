import ArgumentParser

/// `stagedoor`: the operator's command for the whole stack.
@main
struct StagedoorCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stagedoor",
        abstract: "Stagedoor edge media gateway: TURN, SIP edge proxy and WebRTC bridge on one box.",
        discussion: """
            Exit codes: 0 success (status: every component running), 1 failure (status: some \
            component not running), 3 the stack is not running (status), 78 invalid configuration.
            """,
        subcommands: [
            Start.self, Stop.self, Status.self, Reload.self, Check.self, Ports.self, PortSDP.self, TURNCredentials.self,
        ])
}

/// The options every subcommand takes.
struct StackOptions: ParsableArguments {
    @Option(
        name: .long,
        help:
            "The configuration file (default: $STAGEDOOR_CONFIG, /etc/stagedoor/stagedoor.yaml, or ./Config/stagedoor.yaml)."
    )
    var config: String?

    @Option(
        name: .customLong("runtime-dir"), help: "The runtime directory (default: runtime_dir from the configuration).")
    var runtimeDirectory: String?
}
