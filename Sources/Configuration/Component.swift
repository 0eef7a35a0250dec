/// A daemon of the stack, in the order the supervisor starts them: TURN first (panels need it
/// to reach anything), then the bridge (the SIP proxy anchors media through it), then SIP.
public enum Component: String, CaseIterable, Sendable, Codable, Comparable {
    case turn
    case bridge
    case sip

    /// The executable the supervisor spawns for this component.
    public var executableName: String { "stagedoor-\(rawValue)" }

    public static func < (lhs: Component, rhs: Component) -> Bool {
        allCases.firstIndex(of: lhs)! < allCases.firstIndex(of: rhs)!
    }
}

/// Where the stack keeps its sockets, lock and logs inside the runtime directory
/// (`/run/stagedoor` when installed, `.run/` under the checkout in development).
public struct RuntimeLayout: Sendable, Equatable {
    public var directory: String

    public init(directory: String) {
        self.directory = directory
    }

    /// The supervisor's control socket: what the CLI talks to.
    public var supervisorSocket: String { directory + "/supervisor.sock" }
    /// Held with `flock` for the supervisor's lifetime, so only one runs per directory.
    public var supervisorLock: String { directory + "/supervisor.lock" }
    /// Where `stagedoor start` sends a background supervisor's log lines.
    public var supervisorLog: String { directory + "/supervisor.log" }

    public func controlSocket(for component: Component) -> String {
        directory + "/\(component.rawValue).sock"
    }
}
