import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Runs the real, built executables against a temporary runtime directory, and cleans up
/// every process it may have left, whatever the test did.
final class StackHarness {
    /// Where the built products are: beside the test bundle (the same build), or `$STAGEDOOR_BIN_DIR`.
    static let binaryDirectory: String = {
        if let directory = ProcessInfo.processInfo.environment["STAGEDOOR_BIN_DIR"] { return directory }
        let executable = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? ""
        var url = URL(fileURLWithPath: executable).deletingLastPathComponent()
        // swift-testing runs inside `…/debug/stagedoorPackageTests.xctest` on Linux.
        while !FileManager.default.fileExists(atPath: url.appendingPathComponent("stagedoor").path),
            url.path != "/"
        {
            url.deleteLastPathComponent()
        }
        return url.path
    }()

    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().path

    let directory: String
    var runtimeDirectory: String { directory + "/run" }
    var configPath: String { directory + "/stagedoor.yaml" }
    var socketsAndLock: [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: runtimeDirectory)) ?? [])
            .filter { $0.hasSuffix(".sock") || $0.hasSuffix(".lock") }
    }

    /// A stack configured from the shipped development file, with `supervisor` overrides.
    init(supervisor overrides: [String: Int] = [:]) throws {
        var template = Array("/tmp/sd-XXXXXX".utf8CString)
        guard mkdtemp(&template) != nil else { throw HarnessError("mkdtemp failed") }
        directory = String(cString: template)
        try writeConfiguration(supervisor: overrides)
    }

    deinit {
        killEverything()
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// The development configuration with `runtime_dir: run` and some supervisor values replaced.
    func writeConfiguration(supervisor overrides: [String: Int], extra: String = "") throws {
        var text = try String(contentsOfFile: Self.packageRoot + "/Config/stagedoor.yaml", encoding: .utf8)
        text = text.replacingOccurrences(of: "runtime_dir: ../.run", with: "runtime_dir: run")
        for (key, value) in overrides {
            guard let range = text.range(of: "  \(key): [0-9]+", options: .regularExpression) else {
                throw HarnessError("no supervisor key \(key) in the template")
            }
            text.replaceSubrange(range, with: "  \(key): \(value)")
        }
        try (text + extra).write(toFile: configPath, atomically: true, encoding: .utf8)
    }

    struct Result {
        var status: Int32
        var output: String
        var errors: String
    }

    /// Runs `stagedoor ARGS --config … --runtime-dir …` to completion (bounded).
    @discardableResult
    func cli(_ arguments: [String], stackOptions: Bool = true, timeout: TimeInterval = 60) throws -> Result {
        var all = arguments
        if stackOptions { all += ["--config", configPath] }
        return try Self.run(Self.binaryDirectory + "/stagedoor", all, timeout: timeout)
    }

    static func run(_ executable: String, _ arguments: [String], environment: [String: String]? = nil, timeout: TimeInterval = 60) throws -> Result {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        if let environment { process.environment = environment }
        let output = Pipe()
        let errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        process.standardInput = FileHandle.nullDevice
        try process.run()
        // Read both pipes while waiting, so a chatty child cannot block on a full pipe.
        let outputData = LockedData()
        let errorData = LockedData()
        let group = DispatchGroup()
        for (pipe, sink) in [(output, outputData), (errors, errorData)] {
            group.enter()
            DispatchQueue.global().async {
                sink.set(pipe.fileHandleForReading.readDataToEndOfFile())
                group.leave()
            }
        }
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning, Date() < deadline { usleep(10_000) }
        if process.isRunning {
            process.terminate()
            throw HarnessError("\(executable) \(arguments) did not finish within \(timeout) s")
        }
        process.waitUntilExit()
        _ = group.wait(timeout: .now() + 5)
        return Result(
            status: process.terminationStatus, output: String(decoding: outputData.get(), as: UTF8.self),
            errors: String(decoding: errorData.get(), as: UTF8.self))
    }

    /// `stagedoor status --json`, parsed.
    func status() throws -> StackStatus {
        let result = try cli(["status", "--json"])
        guard let object = try JSONSerialization.jsonObject(with: Data(result.output.utf8)) as? [String: Any] else {
            throw HarnessError("status --json printed no object: \(result.output)")
        }
        return StackStatus(exitStatus: result.status, json: object)
    }

    /// Polls `status` until `condition` holds or `timeout` passes; returns the last status.
    func waitForStatus(timeout: TimeInterval, _ condition: (StackStatus) -> Bool) throws -> StackStatus {
        let deadline = Date().addingTimeInterval(timeout)
        var last = try status()
        while !condition(last), Date() < deadline {
            usleep(50_000)
            last = try status()
        }
        return last
    }

    /// Every pid this harness's stack may have spawned: anything whose command line names our
    /// configuration file.
    func processes() -> [Int32] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.compactMap(Int32.init).filter { pid in
            guard let data = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") else { return false }
            let arguments = String(decoding: data, as: UTF8.self).split(separator: "\0")
            return arguments.contains { $0 == configPath } && isAlive(pid)
        }
    }

    func executableName(of pid: Int32) -> String? {
        guard let data = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") else { return nil }
        return String(decoding: data, as: UTF8.self).split(separator: "\0").first.map {
            URL(fileURLWithPath: String($0)).lastPathComponent
        }
    }

    func killEverything() {
        for pid in processes() {
            kill(pid, SIGCONT)
            kill(pid, SIGKILL)
        }
    }
}

/// A live process, not a zombie waiting to be reaped.
func isAlive(_ pid: Int32) -> Bool {
    guard kill(pid, 0) == 0 else { return false }
    guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
        let close = stat.lastIndex(of: ")")
    else { return false }
    let state = stat[stat.index(close, offsetBy: 2)]
    return state != "Z" && state != "X"
}

/// Waits until `condition` holds, or `timeout` passes; returns whether it held.
func eventually(timeout: TimeInterval, _ condition: () -> Bool) -> Bool {
    let deadline = Date().addingTimeInterval(timeout)
    while Date() < deadline {
        if condition() { return true }
        usleep(20_000)
    }
    return condition()
}

struct StackStatus {
    var exitStatus: Int32
    var json: [String: Any]

    var components: [[String: Any]] { json["components"] as? [[String: Any]] ?? [] }
    var supervisorPID: Int32? { ((json["supervisor"] as? [String: Any])?["pid"] as? Int).map(Int32.init) }

    func component(_ name: String) -> [String: Any]? {
        components.first { $0["name"] as? String == name }
    }
    func pid(_ name: String) -> Int32? { (component(name)?["pid"] as? Int).map(Int32.init) }
    func state(_ name: String) -> String? { component(name)?["state"] as? String }
    func restarts(_ name: String) -> Int? { component(name)?["restarts"] as? Int }
    var allRunning: Bool { !components.isEmpty && components.allSatisfy { $0["state"] as? String == "running" } }
}

struct HarnessError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

final class LockedData: @unchecked Sendable {
    private let lock = NSLock()
    private var data = Data()
    func set(_ value: Data) { lock.withLock { data = value } }
    func get() -> Data { lock.withLock { data } }
}
