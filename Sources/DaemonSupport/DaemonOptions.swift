import ArgumentParser
import Configuration
import Foundation

/// The arguments every daemon takes; the supervisor passes all of them.
public struct DaemonOptions: ParsableArguments {
    @Option(name: .long, help: "The configuration file.")
    public var config: String = ConfigurationLocation.defaultPath()

    @Option(name: .customLong("runtime-dir"), help: "Overrides runtime_dir from the configuration.")
    public var runtimeDirectory: String?

    @Option(
        name: .customLong("supervisor-pid"),
        help: "Stop when this process is no longer the parent (set by the supervisor).")
    public var supervisorPID: Int32?

    public init() {}
}

/// Where the configuration is when `--config` is not given.
public enum ConfigurationLocation {
    /// `$STAGEDOOR_CONFIG`, else the installed file, else the development default when run
    /// from a checkout, else the installed path (whose absence is then reported).
    public static func defaultPath() -> String {
        if let path = getenv("STAGEDOOR_CONFIG").map({ String(cString: $0) }), !path.isEmpty {
            return path
        }
        if access(ConfigurationLoader.installedPath, F_OK) == 0 { return ConfigurationLoader.installedPath }
        if access("Config/stagedoor.yaml", F_OK) == 0 { return "Config/stagedoor.yaml" }
        return ConfigurationLoader.installedPath
    }
}
