import Configuration
import Control
import DaemonSupport
import Foundation
import Logging
import ServiceLifecycle
import UnixSignals

/// `stagedoor-supervisor` as a function the executable (and `stagedoor start --foreground`) calls.
public enum SupervisorProgram {
    /// Validates the configuration, takes the runtime directory's lock, and supervises until
    /// SIGTERM, SIGINT or a `stop` request. Returns the process exit code.
    public static func run(configPath: String, runtimeOverride: String?, daemonDirectory: String) async -> Int32 {
        let configuration: StagedoorConfiguration
        do {
            configuration = try ConfigurationLoader.load(path: configPath, runtimeDirectory: runtimeOverride)
        } catch {
            FileHandle.standardError.write(
                Data("stagedoor-supervisor: invalid configuration, nothing started:\n\(error)\n".utf8))
            return Daemon.configurationExitCode
        }
        Observability.bootstrap(name: "stagedoor-supervisor", level: configuration.logLevel)
        umask(0o077)
        var logger = Logger(label: "stagedoor-supervisor")
        logger[metadataKey: "component"] = "supervisor"
        let lock: SupervisorLock
        do {
            try RuntimeDirectory.prepare(configuration.runtimeDirectory)
            lock = try SupervisorLock(path: configuration.layout.supervisorLock)
        } catch {
            logger.error("not started", metadata: ["error": "\(error)"])
            return 1
        }
        defer { lock.release() }

        let notifier = SystemdNotifier(environment: ProcessInfo.processInfo.environment)
        let supervisor = Supervisor(
            configuration: configuration, configPath: configPath, runtimeOverride: runtimeOverride,
            daemonDirectory: daemonDirectory, logger: logger, notifier: notifier)
        let trigger = ShutdownTrigger()
        let control = ControlServer(socketPath: configuration.layout.supervisorSocket, logger: logger) { request in
            switch request.method {
            case "status":
                return ControlReply(await supervisor.status())
            case "reload":
                return ControlReply(try await supervisor.reload())
            case "stop":
                return ControlReply(["stopping": true]) { await trigger.fire() }
            case "metrics":
                return ControlReply(["text": .string(Observability.exposition())])
            default:
                throw ControlFailure.methodNotFound(request.method, available: ["status", "reload", "stop", "metrics"])
            }
        }
        let group = ServiceGroup(
            configuration: .init(
                services: [
                    .init(service: control),
                    .init(service: HangupReload(supervisor: supervisor, logger: logger)),
                    .init(
                        service: SupervisorService(supervisor: supervisor),
                        successTerminationBehavior: .gracefullyShutdownGroup),
                ],
                gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        await trigger.attach(group)
        logger.info(
            "started",
            metadata: [
                "pid": "\(getpid())", "config": "\(configPath)", "runtime_dir": "\(configuration.runtimeDirectory)",
            ])
        do {
            try await group.run()
        } catch {
            logger.error("stopped with an error", metadata: ["error": "\(error)"])
            return 1
        }
        logger.info("stopped")
        return 0
    }
}

/// Lets a control request start the same graceful shutdown as SIGTERM.
actor ShutdownTrigger {
    private var group: ServiceGroup?

    func attach(_ group: ServiceGroup) { self.group = group }

    func fire() async { await group?.triggerGracefulShutdown() }
}

/// Runs the supervisor's loop; on graceful shutdown it stops the daemons, last started first,
/// and returns only when all are gone (the control socket keeps answering meanwhile).
struct SupervisorService: Service {
    let supervisor: Supervisor

    func run() async throws {
        await withGracefulShutdownHandler {
            await supervisor.run()
        } onGracefulShutdown: {
            Task { await supervisor.beginStop() }
        }
    }
}

/// SIGHUP reloads, as `stagedoor reload` does.
struct HangupReload: Service {
    let supervisor: Supervisor
    let logger: Logger

    func run() async throws {
        for await _ in await UnixSignalsSequence(trapping: .sighup).cancelOnGracefulShutdown() {
            logger.info("SIGHUP: reloading")
            _ = try? await supervisor.reload()
        }
    }
}
