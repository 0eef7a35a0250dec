import Configuration
import Control
import Foundation
import Logging
import Metrics
import ServiceLifecycle
import UnixSignals

/// The protocol work of one daemon (TURN, SIP, bridge), run as a service beside its control socket.
public protocol DaemonWorkload: Service {
    /// Whether the daemon serves what it is configured for (its listeners are bound).
    var isReady: Bool { get async }
    /// What `status` says about the protocol work, beyond the process facts.
    func statusDetails() async -> JSONValue
    /// Applies a new, already validated configuration, keeping what it does not change.
    func apply(_ configuration: StagedoorConfiguration) async throws
    /// Brings the workload's own figures (counters, gauges) into swift-metrics; called just before
    /// the `metrics` method reads them, so a scrape never sees figures older than itself.
    func recordMetrics() async
}

extension DaemonWorkload {
    public func recordMetrics() async {}
}

/// Runs a daemon: configuration, logging, metrics, the control socket, signals, and the
/// workload. Returns the process exit code.
public enum Daemon {
    /// sysexits(3) EX_CONFIG: the configuration is unusable, so restarting will not help.
    public static let configurationExitCode: Int32 = 78

    public static func run<Workload: DaemonWorkload>(
        _ component: Component, options: DaemonOptions,
        makeWorkload: (StagedoorConfiguration, Logger) throws -> Workload
    ) async -> Int32 {
        let name = component.executableName
        let configuration: StagedoorConfiguration
        do {
            configuration = try ConfigurationLoader.load(
                path: options.config, runtimeDirectory: options.runtimeDirectory)
        } catch {
            FileHandle.standardError.write(Data("\(name): invalid configuration:\n\(error)\n".utf8))
            return configurationExitCode
        }
        Observability.bootstrap(name: name, level: configuration.logLevel)
        var logger = Logger(label: name)
        logger[metadataKey: "component"] = "\(component.rawValue)"
        umask(0o077)

        do {
            try RuntimeDirectory.prepare(configuration.runtimeDirectory)
            let workload = try makeWorkload(configuration, logger)
            let state = DaemonState(
                component: component, configPath: options.config, runtimeOverride: options.runtimeDirectory,
                configuration: configuration, workload: workload, logger: logger)
            let control = ControlServer(
                socketPath: configuration.layout.controlSocket(for: component), logger: logger
            ) { request in
                try await state.handle(request)
            }
            var services: [ServiceGroupConfiguration.ServiceConfiguration] = [
                .init(service: control),
                .init(service: ReloadOnHangup(state: state)),
                .init(service: workload),
            ]
            if let supervisorPID = options.supervisorPID {
                services.append(
                    .init(
                        service: ParentWatch(expectedParent: supervisorPID, logger: logger),
                        successTerminationBehavior: .gracefullyShutdownGroup))
            }
            let group = ServiceGroup(
                configuration: .init(
                    services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
            await state.attach(group)
            logger.info("started", metadata: ["pid": "\(getpid())", "config": "\(options.config)"])
            try await group.run()
            logger.info("stopped")
            return 0
        } catch {
            logger.error("failed", metadata: ["error": "\(error)"])
            return 1
        }
    }
}

/// The daemon's mutable facts, behind one actor: configuration generation, start time, group.
actor DaemonState {
    let component: Component
    let configPath: String
    let runtimeOverride: String?
    let workload: any DaemonWorkload
    let logger: Logger
    private var configuration: StagedoorConfiguration
    private var generation = 1
    private let started = ContinuousClock.now
    private var group: ServiceGroup?
    private let reloads: Counter
    private let requests: Counter

    init(
        component: Component, configPath: String, runtimeOverride: String?,
        configuration: StagedoorConfiguration, workload: any DaemonWorkload, logger: Logger
    ) {
        self.component = component
        self.configPath = configPath
        self.runtimeOverride = runtimeOverride
        self.configuration = configuration
        self.workload = workload
        self.logger = logger
        self.reloads = Counter(label: "stagedoor_reloads_total")
        self.requests = Counter(label: "stagedoor_control_requests_total")
    }

    func attach(_ group: ServiceGroup) {
        self.group = group
    }

    func handle(_ request: ControlRequest) async throws -> ControlReply {
        requests.increment()
        switch request.method {
        case "status":
            return ControlReply(await status())
        case "reload":
            return ControlReply(try await reload())
        case "stop":
            logger.info("stop requested over the control socket")
            let group = self.group
            return ControlReply(["stopping": true]) {
                await group?.triggerGracefulShutdown()
            }
        case "metrics":
            await workload.recordMetrics()
            return ControlReply(["text": .string(Observability.exposition())])
        default:
            throw ControlFailure.methodNotFound(request.method, available: ["status", "reload", "stop", "metrics"])
        }
    }

    func status() async -> JSONValue {
        let uptime = ContinuousClock.now - started
        return [
            "component": .string(component.rawValue),
            "pid": JSONValue(Int(getpid())),
            "ready": .bool(await workload.isReady),
            "uptime_s": .number(Double(uptime.components.seconds) + Double(uptime.components.attoseconds) / 1e18),
            "generation": JSONValue(generation),
            "config": .string(configPath),
            "details": await workload.statusDetails(),
        ]
    }

    /// Re-reads the file; an invalid one changes nothing and is reported back with its errors.
    func reload() async throws -> JSONValue {
        let fresh: StagedoorConfiguration
        do {
            fresh = try ConfigurationLoader.load(path: configPath, runtimeDirectory: runtimeOverride)
        } catch {
            Counter(label: "stagedoor_reloads_total", dimensions: [("result", "invalid")]).increment()
            logger.warning("reload refused: invalid configuration", metadata: ["error": "\(error)"])
            throw ControlFailure.invalidConfiguration("\(error)")
        }
        var notes: [JSONValue] = []
        if fresh.runtimeDirectory != configuration.runtimeDirectory {
            notes.append("runtime_dir changes take effect on restart")
        }
        try await workload.apply(fresh)
        if fresh.logLevel != configuration.logLevel { Observability.setLevel(fresh.logLevel) }
        configuration = fresh
        generation += 1
        reloads.increment()
        logger.info("configuration reloaded", metadata: ["generation": "\(generation)"])
        return ["generation": JSONValue(generation), "notes": .array(notes)]
    }
}

/// SIGHUP re-reads the configuration, as with every Unix daemon.
struct ReloadOnHangup: Service {
    let state: DaemonState

    func run() async throws {
        let hangups = await UnixSignalsSequence(trapping: .sighup)
        for await _ in hangups.cancelOnGracefulShutdown() {
            _ = try? await state.reload()
        }
    }
}

/// Ends the daemon when the supervisor that started it is gone, so a killed supervisor
/// leaves no orphaned daemons holding ports.
struct ParentWatch: Service {
    let expectedParent: Int32
    let logger: Logger

    func run() async throws {
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            if getppid() != expectedParent {
                logger.warning("the supervisor is gone; stopping", metadata: ["supervisor_pid": "\(expectedParent)"])
                return
            }
            try? await Task.sleep(for: .milliseconds(250))
        }
    }
}

/// The runtime directory holds sockets: it is created 0700 and never left wider.
public enum RuntimeDirectory {
    public static func prepare(_ path: String) throws {
        var isDirectory: ObjCBool = false
        if !FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) {
            try FileManager.default.createDirectory(
                atPath: path, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        } else if !isDirectory.boolValue {
            throw RuntimeDirectoryError(path: path, reason: "exists and is not a directory")
        }
        if chmod(path, 0o700) != 0 {
            throw RuntimeDirectoryError(path: path, reason: "cannot restrict it to mode 0700 (errno \(errno))")
        }
    }
}

public struct RuntimeDirectoryError: Error, CustomStringConvertible {
    public var path: String
    public var reason: String
    public var description: String { "runtime directory \(path) \(reason)" }
}
