import Yams

/// The transports a trunk server is reached over (WebSocket is only for clients).
public enum TrunkTransport: String, Sendable, CaseIterable {
    case udp, tcp, tls
}

/// One media server of a trunk group (`sip.trunks[].servers[]`).
public struct SIPTrunkServer: Sendable, Equatable {
    /// An IP address: the proxy recognises requests from the LAN by their source address, so names
    /// are not accepted (they could resolve to something else later).
    public var host: String
    public var port: Int
    public var transport: TrunkTransport
    /// Lower is preferred (as in DNS SRV); a higher value is tried when the lower ones fail.
    public var priority: Int
    /// Share among servers of the same priority.
    public var weight: Int

    public init(host: String, port: Int, transport: TrunkTransport = .udp, priority: Int = 1, weight: Int = 1) {
        self.host = host
        self.port = port
        self.transport = transport
        self.priority = priority
        self.weight = weight
    }
}

/// A group of media servers that can all take the same calls (`sip.trunks[]`). The first group
/// takes every request from outside.
public struct SIPTrunkGroup: Sendable, Equatable {
    public var name: String
    public var servers: [SIPTrunkServer]

    public init(name: String, servers: [SIPTrunkServer]) {
        self.name = name
        self.servers = servers
    }
}

/// OPTIONS probing of trunk servers (`sip.probing`).
public struct SIPProbing: Sendable, Equatable {
    /// Time between two probes of one server; 0 turns probing off (every server counts as up).
    public var optionsIntervalMilliseconds = 10_000
    /// Consecutive unanswered (or 408/5xx) probes that mark a server down.
    public var downAfter = 2
    /// Consecutive answered probes that bring a down server back.
    public var upAfter = 1

    public init() {}
}

/// Protection against floods and scanners (`sip.limits`).
public struct SIPLimits: Sendable, Equatable {
    /// Requests per second one source IP may send (bursts of twice that); 0 is unlimited.
    /// Trunk servers are exempt. 50 is far above what a phone or browser sends.
    public var requestsPerSecond = 50
    /// How long a source that exceeded its rate is ignored, like Kamailio's pike.
    public var banSeconds = 60
    /// Open TCP/TLS/WebSocket connections one source IP may hold; 0 is unlimited. Clients behind one
    /// NAT share an address, hence the room.
    public var connectionsPerSource = 32
    /// The largest SIP message, in bytes; 65 535 is the largest UDP payload.
    public var maxMessageSize = 65_535
    /// Server transactions held at most; 0 is unlimited. Beyond it, new requests get 503 with
    /// Retry-After and in-dialog requests still pass. A UDP transaction lingers 32 s after its answer
    /// (about 2 KB by then), so 300 000 is room for some 4500 calls/s and about 600 MB at most.
    public var maxTransactions = 300_000

    public init() {}
}

/// What a request from outside for a domain that is neither ours nor a trunk gets (`sip.foreign_domains`).
public enum SIPForeignDomains: String, Sendable, CaseIterable {
    /// 403 Forbidden: the proxy is never an open relay.
    case reject
    /// Sent to the first trunk group anyway, for trunks that route on the user part only.
    case trunk
}

/// SIP over WebSocket policy (`sip.ws`, RFC 7118).
public struct SIPWebSocketSettings: Sendable, Equatable {
    /// Origins (RFC 6454, e.g. `https://panel.example.com`) whose pages may connect; `*` allows any.
    /// A handshake with another Origin is refused with 403; one without Origin (not a browser) is allowed.
    public var allowedOrigins: [String] = []
    /// How often an idle WebSocket is pinged (RFC 6455 §5.5.2); 0 turns pings off.
    public var pingIntervalMilliseconds = 30_000

    public init() {}
}

extension SIPSettings {
    /// Reads the proxy's keys of `sip` (all but `listeners`) into `self`.
    mutating func readProxy(_ reader: inout MappingReader) {
        if let domain = reader.string("domain", describe: "a domain name such as sip.example.com") {
            if domain.isEmpty || domain.contains(" ") || domain.contains(":") {
                reader.report("domain", at: reader.node("domain"), "\"\(domain)\" is not a domain name")
            } else {
                self.domain = domain
            }
        }
        if let host = reader.string(
            "public_host", describe: "the host name or address clients reach this box at")
        {
            if host.isEmpty || host.contains(" ") {
                reader.report("public_host", at: reader.node("public_host"), "\"\(host)\" is not a host")
            } else {
                publicHost = host
            }
        }
        foreignDomains = reader.choice("foreign_domains", of: SIPForeignDomains.self) ?? .reject
        trunks = Self.readTrunks(&reader)
        if var probing = reader.mapping("probing") {
            self.probing.optionsIntervalMilliseconds = probing.integer(
                "options_interval_ms", default: self.probing.optionsIntervalMilliseconds, in: 0...3_600_000)
            if (1..<500).contains(self.probing.optionsIntervalMilliseconds) {
                probing.report(
                    "options_interval_ms", at: probing.node("options_interval_ms"),
                    "must be 0 (off) or at least 500")
            }
            self.probing.downAfter = probing.integer("down_after", default: self.probing.downAfter, in: 1...100)
            self.probing.upAfter = probing.integer("up_after", default: self.probing.upAfter, in: 1...100)
            probing.finish()
        }
        if var limits = reader.mapping("limits") {
            self.limits.requestsPerSecond = limits.integer(
                "requests_per_second", default: self.limits.requestsPerSecond, in: 0...1_000_000)
            self.limits.banSeconds = limits.integer("ban_seconds", default: self.limits.banSeconds, in: 1...86_400)
            self.limits.connectionsPerSource = limits.integer(
                "connections_per_source", default: self.limits.connectionsPerSource, in: 0...100_000)
            self.limits.maxMessageSize = limits.integer(
                "max_message_size", default: self.limits.maxMessageSize, in: 1_024...65_535)
            self.limits.maxTransactions = limits.integer(
                "max_transactions", default: self.limits.maxTransactions, in: 0...10_000_000)
            limits.finish()
        }
        if var ws = reader.mapping("ws") {
            webSocket.allowedOrigins = ws.origins("allowed_origins")
            webSocket.pingIntervalMilliseconds = ws.integer(
                "ping_interval_ms", default: webSocket.pingIntervalMilliseconds, in: 0...3_600_000)
            ws.finish()
        }
    }

    private static func readTrunks(_ reader: inout MappingReader) -> [SIPTrunkGroup] {
        var groups: [SIPTrunkGroup] = []
        var seen: [String: String] = [:]
        for element in reader.list("trunks") {
            guard var group = reader.reader(for: element.node, path: element.path) else { continue }
            let name = group.string("name", required: true, describe: "a name for the group, such as media")
            var servers: [SIPTrunkServer] = []
            let list = group.list("servers")
            if list.isEmpty { group.report("servers", at: group.node("servers"), "needs at least one server") }
            for item in list {
                guard var server = group.reader(for: item.node, path: item.path) else { continue }
                let host = server.string(
                    "host", required: true, describe: "the IP address of the media server, such as 10.0.0.10")
                let port = server.integer("port", default: 5060, in: 1...65_535)
                let transport = server.choice("transport", of: TrunkTransport.self) ?? .udp
                let priority = server.integer("priority", default: 1, in: 0...65_535)
                let weight = server.integer("weight", default: 1, in: 0...65_535)
                server.finish()
                guard let host else { continue }
                guard IPAddressText.family(of: host) != nil else {
                    server.report(
                        "host", at: server.node("host"),
                        "\"\(host)\" is not an IP address; trunks are recognised by their source address")
                    continue
                }
                let key = "\(transport.rawValue) \(host) \(port)"
                if let other = seen[key] {
                    server.report("host", at: server.node("host"), "the same server is already \(other)")
                    continue
                }
                seen[key] = item.path
                servers.append(
                    SIPTrunkServer(host: host, port: port, transport: transport, priority: priority, weight: weight))
            }
            group.finish()
            if let name {
                if groups.contains(where: { $0.name == name }) {
                    group.report("name", at: group.node("name"), "another group is already called \(name)")
                }
                groups.append(SIPTrunkGroup(name: name, servers: servers))
            }
        }
        return groups
    }
}
