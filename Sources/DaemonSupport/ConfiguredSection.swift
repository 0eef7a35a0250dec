import Configuration
import Control
import ServiceLifecycle

/// The workload of a daemon whose protocol engine is not wired in yet: it holds its section
/// of the configuration, reports the sockets that section asks for, and applies reloads.
/// The TURN, SIP and bridge engines replace it in their own modules.
public actor ConfiguredSection: DaemonWorkload {
    public let component: Component
    private var configuration: StagedoorConfiguration

    public init(component: Component, configuration: StagedoorConfiguration) {
        self.component = component
        self.configuration = configuration
    }

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
        self.configuration = configuration
    }
}
