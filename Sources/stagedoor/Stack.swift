import ArgumentParser
import Configuration
import Control
import DaemonSupport
import Foundation
import Supervision

/// Exit codes shared by the subcommands (see `stagedoor --help`).
enum StackExit {
    static let degraded = ExitCode(1)
    /// LSB init-script convention for "program is not running".
    static let notRunning = ExitCode(3)
    static let invalidConfiguration = ExitCode(Daemon.configurationExitCode)
}

/// What the subcommands need to find and talk to a stack.
struct Stack {
    let configPath: String
    let runtimeOverride: String?

    init(_ options: StackOptions) {
        configPath =
            URL(fileURLWithPath: options.config ?? ConfigurationLocation.defaultPath()).standardizedFileURL.path
        runtimeOverride = options.runtimeDirectory.map { URL(fileURLWithPath: $0).standardizedFileURL.path }
    }

    /// The validated configuration, or the errors printed and exit 78.
    func loadConfiguration() throws -> StagedoorConfiguration {
        do {
            return try ConfigurationLoader.load(path: configPath, runtimeDirectory: runtimeOverride)
        } catch {
            printError("invalid configuration:\n\(error)")
            throw StackExit.invalidConfiguration
        }
    }

    /// Found even when the file no longer validates, so a running stack can still be reached.
    var layout: RuntimeLayout {
        RuntimeLayout(directory: runtimeOverride ?? ConfigurationLoader.declaredRuntimeDirectory(path: configPath))
    }

    /// The supervisor's pid when one holds the runtime directory's lock.
    var supervisorPID: Int32?? {
        let holder = SupervisorLock.holder(of: layout.supervisorLock)
        return holder.held ? .some(holder.pid) : nil
    }

    func call(_ method: String, timeout: Duration = .seconds(5)) async throws(ControlClientError) -> JSONValue {
        try await ControlClient.call(socketPath: layout.supervisorSocket, method: method, timeout: timeout)
    }

    /// Where `stagedoor-supervisor` is: beside this executable, else where the package puts daemons.
    static func supervisorExecutable() -> String {
        let candidates = [ExecutableLocation.directory(), "/usr/lib/stagedoor"].map { $0 + "/stagedoor-supervisor" }
        return candidates.first { access($0, X_OK) == 0 } ?? candidates[0]
    }
}

/// How `start`, `stop` and `status` reach the installed stack: through systemd when it manages
/// the box, else directly (as in development), with root handing the supervisor to the service
/// account.
extension Stack {
    /// The systemd unit the package installs.
    static let unit = "stagedoor.service"
    static let unitPaths = ["/etc/systemd/system", "/lib/systemd/system", "/usr/lib/systemd/system"].map {
        $0 + "/" + unit
    }
    static let installedRuntimeDirectory = "/run/stagedoor"

    /// The stack the package runs: the installed configuration on the installed runtime directory.
    var isInstalledStack: Bool {
        configPath == ConfigurationLoader.installedPath
            && (runtimeOverride == nil || runtimeOverride == Self.installedRuntimeDirectory)
    }

    /// systemd runs as PID 1 (sd_booted(3)) and the unit is installed: the unit owns the stack.
    var managedBySystemd: Bool {
        isInstalledStack && access("/run/systemd/system", F_OK) == 0
            && Self.unitPaths.contains { access($0, F_OK) == 0 }
    }

    /// Root starting the installed stack without systemd: the supervisor runs as the service account.
    var runsAsServiceAccount: Bool {
        getuid() == 0 && isInstalledStack && ServiceAccount.exists
    }

    /// Runs `systemctl ARGUMENTS` with this terminal and returns its exit code.
    static func systemctl(_ arguments: [String]) throws -> Int32 {
        let candidates: [String] = ["/usr/bin/systemctl", "/bin/systemctl"]
        let executable = candidates.first { access($0, X_OK) == 0 } ?? "/bin/systemctl"
        return try run(executable, arguments)
    }

    /// Runs a program to its end and returns its exit code; `quiet` drops its standard output.
    static func run(_ executable: String, _ arguments: [String], quiet: Bool = false) throws -> Int32 {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        if quiet { process.standardOutput = FileHandle.nullDevice }
        do {
            try process.run()
        } catch {
            printError("cannot run \(executable): \(error)")
            throw ExitCode.failure
        }
        process.waitUntilExit()
        return process.terminationReason == .exit ? process.terminationStatus : 128 + process.terminationStatus
    }
}

/// The system account the package creates (see Packaging/postinst); the installed stack runs as it.
enum ServiceAccount {
    static let name = "_stagedoor"

    static var exists: Bool { getpwnam(name) != nil }

    /// The command prefix that runs a program as the account with only CAP_NET_BIND_SERVICE
    /// (to bind ports below 1024), as the systemd unit does: setpriv(1) from util-linux.
    static let setprivPrefix = [
        "/usr/bin/setpriv", "--reuid=\(name)", "--regid=\(name)", "--init-groups",
        "--inh-caps=-all,+net_bind_service", "--ambient-caps=-all,+net_bind_service",
        "--bounding-set=-all,+net_bind_service", "--no-new-privs", "--",
    ]

    /// Hands `path` (a runtime directory or a log) to the account.
    static func own(_ path: String) throws {
        guard let account = getpwnam(name) else { return }
        if chown(path, account.pointee.pw_uid, account.pointee.pw_gid) != 0 {
            printError("cannot hand \(path) to \(name): \(String(cString: strerror(errno)))")
            throw ExitCode.failure
        }
    }

    /// `stagedoor check` as the account, so that files only root can read (a private key with
    /// the wrong owner) are found before the supervisor trips on them. Returns its exit code.
    static func check(configPath: String, quiet: Bool = false) throws -> Int32 {
        let me = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? "/usr/bin/stagedoor"
        var arguments = setprivPrefix
        let executable = arguments.removeFirst()
        return try Stack.run(executable, arguments + [me, "check", "--config", configPath], quiet: quiet)
    }
}

func printError(_ text: String) {
    FileHandle.standardError.write(Data("stagedoor: \(text)\n".utf8))
}

func printJSON(_ value: JSONValue) {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
    let data = (try? encoder.encode(value)) ?? Data("null".utf8)
    print(String(decoding: data, as: UTF8.self))
}
