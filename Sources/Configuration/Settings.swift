/// The whole box, as one configuration file describes it (see `Config/stagedoor.yaml`).
public struct StagedoorConfiguration: Sendable, Equatable {
    /// Absolute path of the runtime directory (sockets, lock, logs).
    public var runtimeDirectory: String
    public var logLevel: LogLevel
    public var supervisor: SupervisorSettings
    public var turn: TURNSettings
    public var sip: SIPSettings
    public var bridge: BridgeSettings

    public var layout: RuntimeLayout { RuntimeLayout(directory: runtimeDirectory) }
}

/// swift-log's levels, spelled as operators write them.
public enum LogLevel: String, Sendable, CaseIterable {
    case trace, debug, info, notice, warning, error, critical
}

/// How the supervisor watches and restarts the daemons. Times are milliseconds.
public struct SupervisorSettings: Sendable, Equatable {
    /// How long a started daemon may take to answer `status` as ready before it counts as failed.
    public var startTimeoutMilliseconds: Int = 10_000
    /// How often each running daemon is asked for `status`.
    public var healthIntervalMilliseconds: Int = 1_000
    /// How long one health check may take.
    public var healthTimeoutMilliseconds: Int = 1_000
    /// Consecutive failed checks after which a live but silent daemon is declared hung and replaced.
    public var healthFailuresBeforeRestart: Int = 3
    /// First restart delay; doubled after each failure that follows a short run.
    public var restartBackoffInitialMilliseconds: Int = 250
    /// The cap on the restart delay, so a daemon that was down for long comes back within it.
    public var restartBackoffMaximumMilliseconds: Int = 30_000
    /// A daemon that stayed up this long is stable again: its next failure restarts at once.
    public var restartStableAfterMilliseconds: Int = 60_000
    /// Grace period of each stop step (stop request, then SIGTERM) before the next, harsher one.
    public var stopTimeoutMilliseconds: Int = 5_000

    public init() {}
}

/// Transport of a listening socket, as URIs and SDP name them.
public enum ListenerTransport: String, Sendable, CaseIterable {
    case udp, tcp, tls, ws, wss

    /// The IP protocol a firewall sees.
    public var ipProtocol: IPProtocol { self == .udp ? .udp : .tcp }
    /// Whether the listener terminates TLS and so needs a certificate and key.
    public var needsCertificate: Bool { self == .tls || self == .wss }
}

public enum IPProtocol: String, Sendable {
    case udp, tcp
}

/// A socket a daemon binds, with its TLS material when the transport needs it.
public struct Listener: Sendable, Equatable {
    public var transport: ListenerTransport
    public var address: String
    public var port: Int
    /// PEM certificate chain, for TLS and WSS.
    public var certificate: String?
    /// PEM private key, for TLS and WSS.
    public var privateKey: String?
    /// The HTTP path of a WebSocket listener (RFC 7118 clients connect to it).
    public var path: String?

    public init(
        transport: ListenerTransport, address: String, port: Int, certificate: String? = nil,
        privateKey: String? = nil, path: String? = nil
    ) {
        self.transport = transport
        self.address = address
        self.port = port
        self.certificate = certificate
        self.privateKey = privateKey
        self.path = path
    }
}

/// An inclusive range of UDP ports on one address.
public struct PortRange: Sendable, Equatable {
    public var address: String
    public var lowerBound: Int
    public var upperBound: Int
    /// A second, IPv6 bind address with the same ports (TURN's relay only: RFC 6156).
    public var ipv6Address: String?

    public init(address: String, lowerBound: Int, upperBound: Int) {
        self.address = address
        self.lowerBound = lowerBound
        self.upperBound = upperBound
    }

    public var count: Int { upperBound - lowerBound + 1 }
}

/// `stagedoor-turn`: STUN/TURN listeners and the relay range (RFC 8656).
public struct TURNSettings: Sendable, Equatable {
    public var realm: String
    public var listeners: [Listener]
    /// Relayed transport addresses are allocated from this range.
    public var relay: PortRange
    /// The public address advertised in XOR-RELAYED-ADDRESS when the box sits behind 1:1 NAT.
    public var externalAddress: String?
    /// TURN REST API shared secrets (coturn's `static-auth-secret`); the first one mints new
    /// credentials, all of them are accepted, so a secret is rotated without cutting anyone off.
    /// Those of `turn.auth.secrets_file` follow those written in the configuration.
    public var secrets: [String] = []
    /// Static long-term credential users.
    public var users: [TURNUser] = []
    /// CIDR ranges peers may be in although the default deny list covers them (e.g. the LAN's
    /// media servers). The allow list wins.
    public var allowPeers: [String] = []
    /// CIDR ranges denied on top of the IANA special-purpose ranges.
    public var denyPeers: [String] = []
    public var limits = TURNLimits()
}

/// A static TURN user (long-term credentials, RFC 8489 §9.2).
public struct TURNUser: Sendable, Equatable {
    public var name: String
    public var password: String

    public init(name: String, password: String) {
        self.name = name
        self.password = password
    }
}

/// Quotas that keep one client, or all of them, from exhausting the box.
public struct TURNLimits: Sendable, Equatable {
    /// 486 Allocation Quota Reached beyond this (RFC 8656 §7.2).
    public var allocationsPerUser = 10
    public var allocations = 10_000
    public var permissionsPerAllocation = 64
    /// The longest LIFETIME granted, in seconds.
    public var maximumLifetimeSeconds = 3_600
    /// Relayed kbit/s per allocation, both directions; 0 is unlimited. 4 Mbit/s carries any
    /// audio and most video, and keeps one credential from flooding the LAN.
    public var bandwidthPerAllocationKbps = 4_000
    /// Relayed Mbit/s over all allocations; 0 is unlimited.
    public var bandwidthTotalMbps = 0
    /// Requests per second one source IP may send without an allocation; 0 is unlimited.
    public var unauthenticatedPerSecond = 50

    public init() {}
}

/// `stagedoor-sip`: SIP listeners toward phones, browsers and trunks (RFC 3261, RFC 7118).
public struct SIPSettings: Sendable, Equatable {
    public var listeners: [Listener]
    // The proxy's own keys; their types and reader are in SIPSettings.swift.
    /// `sip.domain`: Request-URIs naming it (on any port) are for the trunks.
    public var domain: String?
    /// `sip.public_host`: written into Via, Record-Route and Path for listeners bound to a wildcard.
    public var publicHost: String?
    public var foreignDomains: SIPForeignDomains = .reject
    public var trunks: [SIPTrunkGroup] = []
    public var probing = SIPProbing()
    public var limits = SIPLimits()
    public var webSocket = SIPWebSocketSettings()
}

/// `stagedoor-bridge`: WHIP signalling, media ports and the optional ng control listener.
public struct BridgeSettings: Sendable, Equatable {
    /// WHIP (RFC 9725) over HTTPS; plain HTTP only on loopback.
    public var whip: Listener
    /// UDP ports for WebRTC and RTP media.
    public var media: PortRange
    /// rtpengine-compatible "ng" control over UDP, for Kamailio/OpenSIPS; loopback by default.
    public var ng: Listener?
    /// Matrix ports (RTP stream pairs) and the panels bound to them; see BridgePorts.swift.
    public var ports: [BridgePort] = []
    public var panels: [BridgePanel] = []
    /// `bridge.whip.allowed_origins`: origins whose pages may call WHIP from a browser (CORS,
    /// RFC 9725 §4.1). Empty by default: no page may; clients that send no Origin (not browsers)
    /// are always allowed.
    public var allowedOrigins: [String] = []
    /// `bridge.sessions`: how long a panel session may take to connect and to stay silent.
    public var sessions = BridgeSessionTimeouts()
    /// `bridge.jitter_buffer`: the bounds its adaptive targets stay within, each way.
    public var jitterBuffer = BridgeJitterBufferBounds()
}

/// `bridge.jitter_buffer`: each receiving side's jitter buffer adapts its target to the jitter it
/// sees (one packet plus four times the RFC 3550 A.8 estimate), within these bounds in
/// milliseconds. A lower maximum trades late packets (concealed) for less delay. New bounds
/// apply to sessions that start after a reload.
public struct BridgeJitterBufferBounds: Sendable, Equatable {
    /// Opus from panels over the Internet (20 ms packets): 20–200 ms by default.
    public var fromPanelsMilliseconds: ClosedRange<Int> = 20...200
    /// L24/L16 from matrix ports on the LAN: 5–100 ms by default (the bridge's own timers on a
    /// loaded box jitter more than a switched LAN does).
    public var fromPortsMilliseconds: ClosedRange<Int> = 5...100

    public init(fromPanelsMilliseconds: ClosedRange<Int> = 20...200, fromPortsMilliseconds: ClosedRange<Int> = 5...100)
    {
        self.fromPanelsMilliseconds = fromPanelsMilliseconds
        self.fromPortsMilliseconds = fromPortsMilliseconds
    }
}

/// `bridge.sessions`: when the bridge retires a panel session that never connected or whose
/// panel went silent. Milliseconds. At most 30 s: the ICE agent's own limits (RFC 7675 §5.1's
/// consent timeout, and its establishment deadline) still apply above these.
public struct BridgeSessionTimeouts: Sendable, Equatable {
    /// ICE and DTLS must complete within this after the answer, or the session ends.
    public var establishmentMilliseconds = 30_000
    /// No consent check (RFC 7675) from the panel for this long ends a connected session. Panels
    /// check every 5 s or so (±20 %), so less than 10 s would end live sessions.
    public var consentMilliseconds = 30_000

    public init(establishmentMilliseconds: Int = 30_000, consentMilliseconds: Int = 30_000) {
        self.establishmentMilliseconds = establishmentMilliseconds
        self.consentMilliseconds = consentMilliseconds
    }
}
