import ArgumentParser
import Configuration
import Control
import DaemonSupport
import Foundation
import Supervision

struct Start: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Start the stack (the supervisor in the background); does nothing if it already runs.")

    @OptionGroup var options: StackOptions

    @Flag(help: "Run the supervisor in this terminal; Ctrl-C stops the whole stack.")
    var foreground = false

    @Option(name: .customLong("daemon-dir"), help: "Where the daemon executables are (default: beside the supervisor).")
    var daemonDirectory: String?

    func run() async throws {
        let stack = Stack(options)
        let configuration = try stack.loadConfiguration()
        if stack.managedBySystemd && !foreground && daemonDirectory == nil {
            try await startThroughSystemd(stack: stack, configuration: configuration)
            return
        }
        if let pid = stack.supervisorPID {
            print("stagedoor is already running" + (pid.map { " (supervisor pid \($0))" } ?? ""))
            return
        }
        let asServiceAccount = stack.runsAsServiceAccount
        if asServiceAccount {
            // The supervisor reads the file as the account: what only root can read fails there.
            let code = try ServiceAccount.check(configPath: stack.configPath, quiet: true)
            if code != 0 { throw ExitCode(code) }
        }
        var executable = Stack.supervisorExecutable()
        var arguments = ["--config", stack.configPath, "--runtime-dir", configuration.runtimeDirectory]
        if let daemonDirectory {
            arguments += ["--daemon-dir", URL(fileURLWithPath: daemonDirectory).standardizedFileURL.path]
        }
        if asServiceAccount {
            let prefix = ServiceAccount.setprivPrefix
            arguments = Array(prefix.dropFirst()) + [executable] + arguments
            executable = prefix[0]
        }
        try RuntimeDirectory.prepare(configuration.runtimeDirectory)
        let log = configuration.layout.supervisorLog
        if asServiceAccount {
            try ServiceAccount.own(configuration.runtimeDirectory)
            let descriptor = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o600)
            if descriptor >= 0 { close(descriptor) }
            let leftovers = (try? FileManager.default.contentsOfDirectory(atPath: configuration.runtimeDirectory)) ?? []
            for name in leftovers { try ServiceAccount.own(configuration.runtimeDirectory + "/" + name) }
        }
        if foreground {
            // Become the supervisor, so signals from the terminal and systemd reach it directly.
            let argv = ([executable] + arguments).map { strdup($0) } + [nil]
            execv(executable, argv)
            printError("cannot run \(executable): \(String(cString: strerror(errno)))")
            throw ExitCode.failure
        }
        let pid: pid_t
        do {
            pid = try ProcessLauncher.spawn(
                executable: executable, arguments: arguments, environment: ProcessInfo.processInfo.environment,
                detachedLog: log)
        } catch {
            printError("\(error)")
            throw ExitCode.failure
        }
        try await waitUntilSettled(stack: stack, supervisor: pid, configuration: configuration, log: log)
    }

    /// systemd owns the installed stack: start the unit, then wait for the components as usual.
    private func startThroughSystemd(stack: Stack, configuration: StagedoorConfiguration) async throws {
        if getuid() == 0 && ServiceAccount.exists {
            let code = try ServiceAccount.check(configPath: stack.configPath, quiet: true)
            if code != 0 { throw ExitCode(code) }
        }
        let code = try Stack.systemctl(["start", Stack.unit])
        if code != 0 {
            printError("systemctl start \(Stack.unit) failed (exit \(code)); see journalctl -u \(Stack.unit)")
            throw ExitCode.failure
        }
        try await waitUntilSettled(
            stack: stack, supervisor: nil, configuration: configuration, log: "journalctl -u \(Stack.unit)")
    }

    /// Waits for every component to come up or fail once, then prints the status table.
    private func waitUntilSettled(
        stack: Stack, supervisor pid: pid_t?, configuration: StagedoorConfiguration, log: String
    ) async throws {
        let settings = configuration.supervisor
        let limit = Duration.milliseconds(settings.startTimeoutMilliseconds * Component.allCases.count) + .seconds(10)
        let deadline = ContinuousClock.now + limit
        while ContinuousClock.now < deadline {
            var status: Int32 = 0
            if let pid, waitpid(pid, &status, WNOHANG) == pid {
                printError("the supervisor exited (\(ExitStatus(waitStatus: status))); see \(log)")
                throw ExitCode.failure
            }
            if let answer = try? await stack.call("status", timeout: .seconds(2)),
                answer["supervisor"]?["state"]?.stringValue == "running"
            {
                let table = StatusTable(answer)
                print(table.text)
                print("log: \(log)")
                if !table.allRunning { throw StackExit.degraded }
                return
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        printError("the stack did not come up within \(limit); see \(log)")
        throw ExitCode.failure
    }
}

struct Stop: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Stop the whole stack gracefully; does nothing if it is not running.")

    @OptionGroup var options: StackOptions

    @Option(help: "Seconds to wait for the stack to stop before giving up.")
    var timeout: Int = 60

    func run() async throws {
        let stack = Stack(options)
        if stack.managedBySystemd {
            let code = try Stack.systemctl(["stop", Stack.unit])
            if code != 0 {
                printError("systemctl stop \(Stack.unit) failed (exit \(code))")
                throw ExitCode.failure
            }
            print("stagedoor stopped")
            return
        }
        guard let holder = stack.supervisorPID else {
            print("stagedoor is not running")
            return
        }
        do {
            _ = try await stack.call("stop")
        } catch {
            // A supervisor that holds the lock but does not answer still stops on SIGTERM.
            if let pid = holder { kill(pid, SIGTERM) }
        }
        let deadline = ContinuousClock.now + .seconds(timeout)
        while ContinuousClock.now < deadline {
            if stack.supervisorPID == nil {
                print("stagedoor stopped")
                return
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        printError("the stack did not stop within \(timeout) s")
        throw ExitCode.failure
    }
}

struct Reload: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Validate the configuration and apply it to the running daemons (same as SIGHUP).")

    @OptionGroup var options: StackOptions

    func run() async throws {
        let stack = Stack(options)
        let answer: JSONValue
        do {
            answer = try await stack.call("reload", timeout: .seconds(30))
        } catch .notRunning {
            printError("stagedoor is not running")
            throw StackExit.notRunning
        } catch .remote(let failure) where failure.code == ControlFailure.invalidConfiguration("").code {
            printError("reload refused, nothing changed:\n\(failure.data?.stringValue ?? failure.message)")
            throw StackExit.invalidConfiguration
        } catch {
            printError("\(error)")
            throw ExitCode.failure
        }
        var failed = false
        for entry in answer["components"]?.arrayValue ?? [] {
            let name = entry["name"]?.stringValue ?? "?"
            let result = entry["result"]?.stringValue ?? "?"
            if result == "failed" { failed = true }
            print("\(name): \(result)" + (entry["error"]?.stringValue.map { " (\($0))" } ?? ""))
        }
        for note in answer["notes"]?.arrayValue ?? [] { print("note: \(note.stringValue ?? "")") }
        if failed { throw ExitCode.failure }
    }
}
