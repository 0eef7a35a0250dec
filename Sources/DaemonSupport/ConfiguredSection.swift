import Configuration
import Control
import NIOConcurrencyHelpers
import ServiceLifecycle

/// The workload of a daemon whose protocol engine is not wired in yet: it holds its section
/// of the configuration, reports the sockets that section asks for, and applies reloads.
/// The TURN, SIP and bridge engines replace it in their own modules.
///
/// A class behind a lock rather than an actor: Swift 6.3 miscompiles (SIGSEGV, frame pointer
/// lost) the generic `makeWorkload` call in `Daemon.run` when it returns this as an actor.
public final class ConfiguredSection: DaemonWorkload, @unchecked Sendable {
    public let component: Component
    private let current: NIOLockedValueBox<StagedoorConfiguration>

    public init(component: Component, configuration: StagedoorConfiguration) {
        self.component = component
        self.current = NIOLockedValueBox(configuration)
    }

    private var configuration: StagedoorConfiguration { current.withLockedValue { $0 } }

    public var isReady: Bool { true }

    public func run() async throws {
        try await gracefulShutdown()
    }

    public func statusDetails() -> JSONValue {
        let sockets = configuration.firewallRules.filter { $0.component == component }.map { rule -> JSONValue in
            [
                "protocol": .string(rule.ipProtocol.rawValue), "address": .string(rule.address),
                "ports": .string(rule.portText), "purpose": .string(rule.purpose),
            ]
        }
        return ["configured_sockets": .array(sockets)]
    }

    public func apply(_ configuration: StagedoorConfiguration) {
        current.withLockedValue { $0 = configuration }
    }
}
