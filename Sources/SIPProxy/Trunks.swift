import SIP

/// One media server of a trunk group (an Asterisk box on the LAN).
public struct TrunkServer: Hashable, Sendable {
    public var host: String
    public var port: UInt16
    public var transport: SIPTransport
    /// Lower is preferred, as in DNS SRV (RFC 2782): servers of a higher priority value are tried only
    /// when every server of a lower one failed or is down.
    public var priority: Int
    /// Relative share among servers of the same priority (RFC 2782 weighted order).
    public var weight: Int

    public init(host: String, port: UInt16, transport: SIPTransport = .udp, priority: Int = 1, weight: Int = 1) {
        self.host = host
        self.port = port
        self.transport = transport
        self.priority = priority
        self.weight = weight
    }
}

/// A group of servers that can all take the same calls.
public struct TrunkGroup: Hashable, Sendable {
    public var name: String
    public var servers: [TrunkServer]

    public init(name: String, servers: [TrunkServer]) {
        self.name = name
        self.servers = servers
    }
}

/// Identifies a server by its place in the configuration.
public struct TrunkServerID: Hashable, Sendable, CustomStringConvertible {
    public var group: Int
    public var server: Int

    public init(group: Int, server: Int) {
        self.group = group
        self.server = server
    }

    public var description: String { "\(group).\(server)" }
}

/// How OPTIONS probing judges a server (Kamailio dispatcher's `ds_ping_interval`,
/// `ds_probing_threshold`, `ds_inactive_threshold`).
public struct ProbeSettings: Hashable, Sendable {
    /// Time between probes of one server; zero disables probing (every server counts as up). It is also
    /// how long a probe waits for its answer (capped at 64·T1): one still unanswered when the next is due
    /// counts as failed.
    public var interval: Duration
    /// Consecutive failed probes (timeout, 408, 5xx) that mark a server down.
    public var downAfter: Int
    /// Consecutive answered probes that mark a down server up again.
    public var upAfter: Int

    public init(interval: Duration = .seconds(10), downAfter: Int = 2, upAfter: Int = 1) {
        self.interval = interval
        self.downAfter = downAfter
        self.upAfter = upAfter
    }
}

/// The health of one server as OPTIONS probing sees it. A pure state machine: `due(now:)` says when to
/// probe, `record(success:now:)` takes the outcome; `state` changes only after the thresholds.
public struct ServerHealth: Hashable, Sendable {
    public enum State: String, Hashable, Sendable {
        /// Not probed yet (or probing is off): usable.
        case unknown
        case up
        case down
    }

    public private(set) var state: State = .unknown
    public private(set) var consecutiveSuccesses = 0
    public private(set) var consecutiveFailures = 0
    public private(set) var nextProbe: TransactionInstant?
    /// Whether a probe is outstanding (its outcome not yet recorded).
    public private(set) var probing = false

    public init() {}

    /// Whether calls may be sent to the server.
    public var isUsable: Bool { state != .down }

    /// Whether a probe should be sent at `now`; marks it outstanding when so.
    public mutating func startProbeIfDue(now: TransactionInstant, settings: ProbeSettings) -> Bool {
        guard settings.interval > .zero, !probing else { return false }
        if let nextProbe, now < nextProbe { return false }
        probing = true
        nextProbe = now + settings.interval
        return true
    }

    /// Records a probe's (or a forwarded request's) outcome; returns the new state when it changed.
    @discardableResult
    public mutating func record(success: Bool, settings: ProbeSettings, probe: Bool = true) -> State? {
        if probe { probing = false }
        let before = state
        if success {
            consecutiveFailures = 0
            consecutiveSuccesses += 1
            if state == .unknown || (state == .down && consecutiveSuccesses >= settings.upAfter) { state = .up }
        } else {
            consecutiveSuccesses = 0
            consecutiveFailures += 1
            if state != .down, consecutiveFailures >= settings.downAfter { state = .down }
        }
        return state == before ? nil : state
    }
}

/// The order in which to try a group's servers for one request: usable servers by ascending priority,
/// within a priority in the weighted random order of RFC 2782, then the down ones as a last resort (a
/// call to a server that may have come back beats a certain failure). `random` returns a value in
/// `0..<bound`; tests pass a fixed one.
public func trunkCandidates(
    group: Int, servers: [TrunkServer], health: [ServerHealth], random: (Int) -> Int
) -> [TrunkServerID] {
    // One server: it is the only candidate, whatever its health.
    if servers.count == 1 { return [TrunkServerID(group: group, server: 0)] }
    func ordered(_ indices: [Int]) -> [Int] {
        var result: [Int] = []
        let priorities = Set(indices.map { servers[$0].priority }).sorted()
        for priority in priorities {
            var pool = indices.filter { servers[$0].priority == priority }
            while !pool.isEmpty {
                let total = pool.reduce(0) { $0 + max(servers[$1].weight, 0) }
                var pick = 0
                if total > 0 {
                    var target = random(total)
                    for (position, index) in pool.enumerated() {
                        target -= max(servers[index].weight, 0)
                        if target < 0 {
                            pick = position
                            break
                        }
                    }
                }
                result.append(pool.remove(at: pick))
            }
        }
        return result
    }
    let usable = servers.indices.filter { $0 >= health.count || health[$0].isUsable }
    let down = servers.indices.filter { $0 < health.count && !health[$0].isUsable }
    return (ordered(usable) + ordered(down)).map { TrunkServerID(group: group, server: $0) }
}
