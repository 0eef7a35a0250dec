import Configuration
import Control
import DaemonSupport
import Foundation
import Logging
import Metrics
import ServiceLifecycle

/// The supervisor's IO driver: spawns and reaps the daemons, runs their health checks over
/// the control sockets, and feeds every event to `SupervisorCore`, which decides.
public actor Supervisor {
    private var core: SupervisorCore
    private var configuration: StagedoorConfiguration
    private let configPath: String
    private let runtimeOverride: String?
    private let daemonDirectory: String
    private let logger: Logger
    private let notifier: SystemdNotifier
    private let started = ContinuousClock.now
    private var announcedReady = false
    private var announcedStatus = ""
    private var lastWatchdog: Instant?
    private var generation = 1
    private var reportedStates: [Component: String] = [:]

    public init(
        configuration: StagedoorConfiguration, configPath: String, runtimeOverride: String?,
        daemonDirectory: String, logger: Logger, notifier: SystemdNotifier
    ) {
        self.core = SupervisorCore(policy: SupervisionPolicy(configuration.supervisor))
        self.configuration = configuration
        self.configPath = configPath
        self.runtimeOverride = runtimeOverride
        self.daemonDirectory = daemonDirectory
        self.logger = logger
        self.notifier = notifier
    }

    /// Runs until every daemon has been stopped (after `beginStop`).
    public func run() async {
        logger.info("supervising", metadata: ["components": "\(core.records.map(\.component.rawValue))"])
        while true {
            let now = ContinuousClock.now
            for (pid, status) in ProcessLauncher.reapExited() {
                perform(core.exited(pid: pid, status: status, now: now))
            }
            perform(core.tick(now: now))
            report(now: now)
            if core.isStopped { break }
            try? await Task.sleep(for: .milliseconds(25))
        }
        for component in Component.allCases {
            unlink(configuration.layout.controlSocket(for: component))
        }
        logger.info("all components stopped")
    }

    public func beginStop() {
        guard !core.isStopping else { return }
        logger.info("stopping all components")
        notifier.send("STOPPING=1")
        perform(core.beginStop(now: .now))
    }

    // MARK: Commands

    private func perform(_ commands: [SupervisorCommand]) {
        for command in commands {
            switch command {
            case .spawn(let component):
                spawn(component)
            case .checkHealth(let component, let pid, let timeout):
                let socket = configuration.layout.controlSocket(for: component)
                Task {
                    let outcome: HealthOutcome
                    do {
                        let answer = try await ControlClient.call(
                            socketPath: socket, method: "status", timeout: timeout)
                        // An answer from some other process on that socket is no answer from ours.
                        outcome =
                            answer["pid"]?.intValue == Int(pid)
                            ? .answered(ready: answer["ready"]?.boolValue ?? false) : .noAnswer
                    } catch {
                        outcome = .noAnswer
                    }
                    await self.healthChecked(component, pid: pid, outcome: outcome)
                }
            case .requestStop(let component, let pid):
                logger.info("stopping", metadata: ["component": "\(component.rawValue)", "pid": "\(pid)"])
                let socket = configuration.layout.controlSocket(for: component)
                Task { _ = try? await ControlClient.call(socketPath: socket, method: "stop", timeout: .seconds(2)) }
            case .signal(let component, let pid, let signal):
                logger.warning(
                    "sending signal",
                    metadata: ["component": "\(component.rawValue)", "pid": "\(pid)", "signal": "\(signal)"])
                kill(pid, signal)
            case .removeSocket(let component):
                unlink(configuration.layout.controlSocket(for: component))
            }
        }
    }

    private func spawn(_ component: Component) {
        let executable = daemonDirectory + "/" + component.executableName
        var arguments = ["--config", configPath, "--supervisor-pid", "\(getpid())"]
        arguments += ["--runtime-dir", configuration.runtimeDirectory]
        var environment = ProcessInfo.processInfo.environment
        // The daemons are not systemd's main process: keep them off its notify socket.
        for key in ["NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID", "LISTEN_FDS", "LISTEN_PID"] {
            environment[key] = nil
        }
        let now = ContinuousClock.now
        do {
            let pid = try ProcessLauncher.spawn(executable: executable, arguments: arguments, environment: environment)
            core.spawned(component, pid: pid, now: now)
            logger.info("spawned", metadata: ["component": "\(component.rawValue)", "pid": "\(pid)"])
        } catch {
            logger.error("spawn failed", metadata: ["component": "\(component.rawValue)", "error": "\(error)"])
            core.spawnFailed(component, reason: "\(error)", now: now)
        }
    }

    private func healthChecked(_ component: Component, pid: Int32, outcome: HealthOutcome) {
        if outcome == .noAnswer, case .running = core.record(component)?.lifecycle {
            logger.warning("health check failed", metadata: ["component": "\(component.rawValue)", "pid": "\(pid)"])
        }
        perform(core.healthChecked(component, pid: pid, outcome: outcome, now: .now))
    }

    /// Logs state changes, counts restarts, and keeps systemd informed.
    private func report(now: Instant) {
        for record in core.records {
            let state = Self.stateName(record, policy: core.policy)
            guard reportedStates[record.component] != state else { continue }
            let previous = reportedStates[record.component]
            reportedStates[record.component] = state
            var metadata: Logger.Metadata = ["component": "\(record.component.rawValue)", "state": "\(state)"]
            if let pid = record.lifecycle.pid { metadata["pid"] = "\(pid)" }
            if let exit = record.lastExit, state != "running" { metadata["last_exit"] = "\(exit)" }
            if case .backoff(let until) = record.lifecycle {
                metadata["restart_in_ms"] = "\((until - now).milliseconds)"
                metadata["restarts"] = "\(record.restarts)"
            }
            let level: Logger.Level = (state == "backoff" || state == "crash-loop") ? .warning : .info
            logger.log(level: level, "component \(state)", metadata: metadata)
            if state == "starting", previous == "backoff" || previous == "crash-loop" {
                Counter(
                    label: "stagedoor_component_restarts_total", dimensions: [("component", record.component.rawValue)]
                )
                .increment()
            }
            Gauge(label: "stagedoor_component_up", dimensions: [("component", record.component.rawValue)])
                .record(state == "running" ? 1 : 0)
        }
        let summary = summary()
        if !announcedReady, core.isSettled {
            announcedReady = true
            announcedStatus = summary
            notifier.send("READY=1\nSTATUS=\(summary)")
            logger.info("stack started", metadata: ["status": "\(summary)"])
        } else if announcedReady, !core.isStopping, summary != announcedStatus {
            // Only when it changes: this runs every tick.
            announcedStatus = summary
            notifier.send("STATUS=\(summary)")
        }
        if let interval = notifier.watchdogInterval, now - (lastWatchdog ?? started) >= interval {
            lastWatchdog = now
            notifier.send("WATCHDOG=1")
        }
    }

    private func summary() -> String {
        core.records.map { "\($0.component.rawValue) \(Self.stateName($0, policy: core.policy))" }.joined(
            separator: ", ")
    }

    // MARK: Control methods

    public func status() -> JSONValue {
        let now = ContinuousClock.now
        let components = core.records.map { record -> JSONValue in
            var entry: [String: JSONValue] = [
                "name": .string(record.component.rawValue),
                "state": .string(Self.stateName(record, policy: core.policy)),
                "pid": record.lifecycle.pid.map { JSONValue(Int($0)) } ?? .null,
                "restarts": JSONValue(record.restarts),
                "consecutive_failures": JSONValue(record.consecutiveFailures),
                "last_exit": JSONValue(record.lastExit),
                "socket": .string(configuration.layout.controlSocket(for: record.component)),
            ]
            switch record.lifecycle {
            case .running(_, let since), .starting(_, let since):
                entry["uptime_s"] = .number((now - since).seconds)
            case .backoff(let until):
                entry["next_restart_in_s"] = .number(max(0, (until - now).seconds))
            default:
                break
            }
            return .object(entry)
        }
        return [
            "supervisor": [
                "pid": JSONValue(Int(getpid())),
                "uptime_s": .number((now - started).seconds),
                "config": .string(configPath),
                "runtime_dir": .string(configuration.runtimeDirectory),
                "generation": JSONValue(generation),
                "state": .string(core.isStopping ? "stopping" : core.isSettled ? "running" : "starting"),
            ],
            "components": .array(components),
        ]
    }

    /// Validates the file first; only a valid one is applied and forwarded to the daemons.
    public func reload() async throws -> JSONValue {
        let announced = announcedReady
        if announced { notifier.send("RELOADING=1") }
        defer { if announced { notifier.send("READY=1") } }
        let fresh: StagedoorConfiguration
        do {
            fresh = try ConfigurationLoader.load(path: configPath, runtimeDirectory: runtimeOverride)
        } catch {
            logger.warning("reload refused: invalid configuration", metadata: ["error": "\(error)"])
            throw ControlFailure.invalidConfiguration("\(error)")
        }
        var notes: [JSONValue] = []
        if fresh.runtimeDirectory != configuration.runtimeDirectory {
            notes.append("runtime_dir changes take effect on restart")
        }
        let runtimeDirectory = configuration.runtimeDirectory
        if fresh.logLevel != configuration.logLevel { Observability.setLevel(fresh.logLevel) }
        configuration = fresh
        configuration.runtimeDirectory = runtimeDirectory
        core.update(policy: SupervisionPolicy(fresh.supervisor))
        generation += 1
        var results: [JSONValue] = []
        for record in core.records {
            guard case .running = record.lifecycle else {
                results.append([
                    "name": .string(record.component.rawValue), "result": "not running; reads the file when it starts",
                ])
                continue
            }
            let socket = configuration.layout.controlSocket(for: record.component)
            do {
                let answer = try await ControlClient.call(socketPath: socket, method: "reload", timeout: .seconds(10))
                results.append([
                    "name": .string(record.component.rawValue), "result": "reloaded",
                    "generation": answer["generation"] ?? .null,
                ])
            } catch {
                results.append([
                    "name": .string(record.component.rawValue), "result": "failed", "error": .string("\(error)"),
                ])
            }
        }
        logger.info("configuration reloaded", metadata: ["generation": "\(generation)"])
        return ["generation": JSONValue(generation), "components": .array(results), "notes": .array(notes)]
    }

    /// The name `status` shows for a record's lifecycle.
    static func stateName(_ record: ComponentRecord, policy: SupervisionPolicy) -> String {
        switch record.lifecycle {
        case .waiting: "waiting"
        case .launching, .starting: "starting"
        case .running: "running"
        case .killing: "restarting"
        case .backoff: record.consecutiveFailures >= policy.crashLoopThreshold ? "crash-loop" : "backoff"
        case .stopping: "stopping"
        case .stopped: "stopped"
        }
    }
}

extension Duration {
    var seconds: Double {
        Double(components.seconds) + Double(components.attoseconds) / 1e18
    }
    var milliseconds: Int64 {
        components.seconds * 1_000 + components.attoseconds / 1_000_000_000_000_000
    }
}
