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

func printError(_ text: String) {
    FileHandle.standardError.write(Data("stagedoor: \(text)\n".utf8))
}

func printJSON(_ value: JSONValue) {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
    let data = (try? encoder.encode(value)) ?? Data("null".utf8)
    print(String(decoding: data, as: UTF8.self))
}
