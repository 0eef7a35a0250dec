import Configuration

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

public typealias Instant = ContinuousClock.Instant

/// What the IO driver must do for the core. The core never touches a process, a socket or a clock.
public enum SupervisorCommand: Sendable, Equatable {
    /// Start the component's executable and report `spawned` or `spawnFailed`.
    case spawn(Component)
    /// Ask the component's control socket for `status` and report `healthChecked`.
    case checkHealth(Component, pid: Int32, timeout: Duration)
    /// Send `stop` over the control socket (the first, gentlest stop step).
    case requestStop(Component, pid: Int32)
    case signal(Component, pid: Int32, signal: Int32)
    /// The process is gone: remove its socket file if it left one behind.
    case removeSocket(Component)
}

/// The answer of one health check.
public enum HealthOutcome: Sendable, Equatable {
    case answered(ready: Bool)
    /// No answer in time, or no socket to connect to.
    case noAnswer
}

/// One component's place in its lifecycle.
public enum Lifecycle: Sendable, Equatable {
    /// Not started yet: an earlier component in the start order has not settled.
    case waiting
    /// A spawn was asked for and not yet reported.
    case launching
    /// Running, not yet answering `status` as ready.
    case starting(pid: Int32, since: Instant)
    case running(pid: Int32, since: Instant)
    /// SIGKILL sent to a hung process (or one that never became ready); waiting for its exit.
    /// `since` is when it was started, so a long stable run still counts as one.
    case killing(pid: Int32, reason: String, since: Instant)
    /// Failed; restarts at `until`.
    case backoff(until: Instant)
    case stopping(pid: Int32, step: StopStep, deadline: Instant)
    case stopped

    public enum StopStep: Sendable, Equatable {
        case requested, terminated, killed
    }

    public var pid: Int32? {
        switch self {
        case .starting(let pid, _), .running(let pid, _), .killing(let pid, _, _), .stopping(let pid, _, _): pid
        case .waiting, .launching, .backoff, .stopped: nil
        }
    }
}

/// What the supervisor knows about one component.
public struct ComponentRecord: Sendable, Equatable {
    public let component: Component
    public internal(set) var lifecycle: Lifecycle = .waiting
    /// Times the supervisor started it again after a failure.
    public internal(set) var restarts = 0
    /// Failures since it last ran for `stableAfter`; drives the backoff and the crash-loop flag.
    public internal(set) var consecutiveFailures = 0
    public internal(set) var lastExit: String?
    /// Whether it has been ready, or has failed, at least once: later components may start.
    public internal(set) var settled = false
    var healthFailures = 0
    var nextHealthCheck: Instant?
    var healthCheckInFlight = false
    var isRestart = false
    var killReason: String?
}

/// The supervisor as a pure state machine: time and process events in, commands out.
///
/// Start order is `Component.allCases` (turn, bridge, sip): each waits until the ones before
/// it have become ready or failed once, so a broken component never blocks the others.
/// Stop order is the reverse, one component at a time: stop request, SIGTERM, SIGKILL.
public struct SupervisorCore: Sendable {
    public private(set) var policy: SupervisionPolicy
    public private(set) var records: [ComponentRecord]
    public private(set) var isStopping = false

    public init(policy: SupervisionPolicy, components: [Component] = Component.allCases) {
        self.policy = policy
        self.records = components.map { ComponentRecord(component: $0) }
    }

    /// New timing rules from a reloaded configuration; they apply from the next event on.
    public mutating func update(policy: SupervisionPolicy) {
        self.policy = policy
    }

    public func record(_ component: Component) -> ComponentRecord? {
        records.first { $0.component == component }
    }

    /// Every component has come up or failed at least once: the initial start is over.
    public var isSettled: Bool { records.allSatisfy(\.settled) }

    public var isStopped: Bool { records.allSatisfy { $0.lifecycle == .stopped } }

    /// Every component running and ready.
    public var allRunning: Bool {
        records.allSatisfy { if case .running = $0.lifecycle { true } else { false } }
    }

    // MARK: Time

    public mutating func tick(now: Instant) -> [SupervisorCommand] {
        if isStopping { return advanceStop(now: now) }
        var commands: [SupervisorCommand] = []
        for index in records.indices {
            let earlierSettled = records[..<index].allSatisfy(\.settled)
            switch records[index].lifecycle {
            case .waiting where earlierSettled:
                records[index].lifecycle = .launching
                commands.append(.spawn(records[index].component))
            case .backoff(let until) where now >= until:
                records[index].lifecycle = .launching
                records[index].isRestart = true
                commands.append(.spawn(records[index].component))
            case .starting(let pid, let since):
                if now - since >= policy.startTimeout {
                    let seconds = policy.startTimeout.components.seconds
                    records[index].lifecycle = .killing(
                        pid: pid, reason: "not ready after \(seconds) s", since: since)
                    commands.append(.signal(records[index].component, pid: pid, signal: SIGKILL))
                } else if let check = dueHealthCheck(index, pid: pid, now: now, every: policy.readinessPollInterval) {
                    commands.append(check)
                }
            case .running(let pid, _):
                if let check = dueHealthCheck(index, pid: pid, now: now, every: policy.healthInterval) {
                    commands.append(check)
                }
            default:
                break
            }
        }
        return commands
    }

    private mutating func dueHealthCheck(_ index: Int, pid: Int32, now: Instant, every interval: Duration)
        -> SupervisorCommand?
    {
        guard !records[index].healthCheckInFlight, now >= (records[index].nextHealthCheck ?? now) else { return nil }
        records[index].healthCheckInFlight = true
        records[index].nextHealthCheck = now + interval
        return .checkHealth(records[index].component, pid: pid, timeout: policy.healthTimeout)
    }

    // MARK: Process events

    public mutating func spawned(_ component: Component, pid: Int32, now: Instant) {
        guard let index = index(of: component), records[index].lifecycle == .launching else { return }
        if records[index].isRestart { records[index].restarts += 1 }
        records[index].isRestart = false
        records[index].lifecycle = .starting(pid: pid, since: now)
        records[index].healthFailures = 0
        records[index].healthCheckInFlight = false
        records[index].nextHealthCheck = now
    }

    public mutating func spawnFailed(_ component: Component, reason: String, now: Instant) {
        guard let index = index(of: component), records[index].lifecycle == .launching else { return }
        if records[index].isRestart { records[index].restarts += 1 }
        records[index].isRestart = false
        fail(index, reason: reason, ranFor: .zero, now: now)
    }

    /// A child was reaped. Returns the commands that follow (the socket cleanup).
    public mutating func exited(pid: Int32, status: ExitStatus, now: Instant) -> [SupervisorCommand] {
        guard let index = records.firstIndex(where: { $0.lifecycle.pid == pid }) else { return [] }
        let component = records[index].component
        let ranFor: Duration
        switch records[index].lifecycle {
        case .running(_, let since), .starting(_, let since), .killing(_, _, let since): ranFor = now - since
        default: ranFor = .zero
        }
        if case .stopping = records[index].lifecycle {
            records[index].lifecycle = .stopped
            records[index].lastExit = status.description
        } else if isStopping {
            records[index].lifecycle = .stopped
            records[index].lastExit = status.description
        } else if case .killing(_, let reason, _) = records[index].lifecycle {
            fail(index, reason: reason, ranFor: ranFor, now: now)
        } else {
            fail(index, reason: status.description, ranFor: ranFor, now: now)
        }
        return [.removeSocket(component)]
    }

    private mutating func fail(_ index: Int, reason: String, ranFor: Duration, now: Instant) {
        if ranFor >= policy.stableAfter { records[index].consecutiveFailures = 0 }
        records[index].consecutiveFailures += 1
        records[index].lastExit = reason
        records[index].settled = true
        records[index].healthCheckInFlight = false
        records[index].lifecycle = .backoff(
            until: now + policy.backoff(afterConsecutiveFailures: records[index].consecutiveFailures))
    }

    public mutating func healthChecked(_ component: Component, pid: Int32, outcome: HealthOutcome, now: Instant)
        -> [SupervisorCommand]
    {
        guard let index = index(of: component), records[index].lifecycle.pid == pid else { return [] }
        records[index].healthCheckInFlight = false
        switch (records[index].lifecycle, outcome) {
        case (.starting, .answered(ready: true)):
            records[index].lifecycle = .running(pid: pid, since: now)
            records[index].settled = true
            records[index].healthFailures = 0
            records[index].nextHealthCheck = now + policy.healthInterval
        case (.running, .answered):
            records[index].healthFailures = 0
        case (.running(_, let since), .noAnswer):
            records[index].healthFailures += 1
            if records[index].healthFailures >= policy.healthFailuresBeforeRestart {
                let reason = "hung: no answer to \(records[index].healthFailures) health checks"
                records[index].lifecycle = .killing(pid: pid, reason: reason, since: since)
                // SIGKILL: a hung (or SIGSTOPped) process will not act on a gentler request.
                return [.signal(component, pid: pid, signal: SIGKILL)]
            }
        default:
            // A starting daemon that does not answer yet is still starting; its timeout decides.
            break
        }
        return []
    }

    // MARK: Stopping

    /// Stops everything, last component first. Further `tick`s advance the stop.
    public mutating func beginStop(now: Instant) -> [SupervisorCommand] {
        isStopping = true
        return advanceStop(now: now)
    }

    private mutating func advanceStop(now: Instant) -> [SupervisorCommand] {
        guard let index = records.indices.reversed().first(where: { records[$0].lifecycle != .stopped }) else {
            return []
        }
        let component = records[index].component
        switch records[index].lifecycle {
        case .waiting, .backoff:
            records[index].lifecycle = .stopped
            return advanceStop(now: now)
        case .launching:
            // The driver reports the spawn before the next tick; stop it then.
            return []
        case .starting(let pid, _), .running(let pid, _):
            records[index].lifecycle = .stopping(pid: pid, step: .requested, deadline: now + policy.stopTimeout)
            return [.requestStop(component, pid: pid)]
        case .killing(let pid, _, _):
            records[index].lifecycle = .stopping(pid: pid, step: .killed, deadline: now + policy.stopTimeout)
            return []
        case .stopping(let pid, let step, let deadline) where now >= deadline:
            switch step {
            case .requested:
                records[index].lifecycle = .stopping(pid: pid, step: .terminated, deadline: now + policy.stopTimeout)
                return [.signal(component, pid: pid, signal: SIGTERM)]
            case .terminated:
                records[index].lifecycle = .stopping(pid: pid, step: .killed, deadline: now + policy.stopTimeout)
                return [.signal(component, pid: pid, signal: SIGKILL)]
            case .killed:
                // Not even SIGKILL reaped it (stuck in the kernel): give up waiting, say so.
                records[index].lifecycle = .stopped
                records[index].lastExit = "did not exit after SIGKILL"
                return advanceStop(now: now)
            }
        case .stopping, .stopped:
            return []
        }
    }

    private func index(of component: Component) -> Int? {
        records.firstIndex { $0.component == component }
    }
}
