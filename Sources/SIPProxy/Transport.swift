import SIP

/// A SIP transport (RFC 3261 §18, RFC 5630 TLS, RFC 7118 WebSocket).
public enum SIPTransport: String, Hashable, Sendable, CaseIterable {
    case udp, tcp, tls, ws, wss

    /// Reliable transports do not retransmit (§17.1.1.2) and carry their messages over a connection.
    public var isReliable: Bool { self != .udp }
    /// The transport as a Via names it (`SIP/2.0/UDP`, RFC 7118 §5.2 `WS`, `WSS`).
    public var viaName: String { rawValue.uppercased() }
    /// Whether the proxy can open a connection of this kind itself; WebSocket connections only ever
    /// come from clients (RFC 7118 §5: the server never initiates them).
    public var canConnect: Bool { self != .ws && self != .wss }
    /// The port a URI without one implies (§19.1.2).
    public var defaultPort: UInt16 {
        switch self {
        case .udp, .tcp: 5060
        case .tls: 5061
        case .ws: 80
        case .wss: 443
        }
    }

    /// The transport a Via or a `transport=` URI parameter names; nil when unknown.
    public init?(name: String) {
        self.init(rawValue: name.lowercased())
    }
}

/// A remote IP address (text, as the driver reported it) and port.
public struct PeerAddress: Hashable, Sendable, CustomStringConvertible {
    public var host: String
    public var port: UInt16

    public init(host: String, port: UInt16) {
        self.host = host
        self.port = port
    }

    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
}

/// A flow (RFC 5626 §3.3): the path a message arrived on, which a response or a later request goes back
/// over. For UDP the pair of our listener and the remote address; for TCP, TLS and WebSocket one
/// connection, which the driver numbers.
public struct Flow: Hashable, Sendable, CustomStringConvertible {
    /// The index of the listener (in `ProxyConfiguration.listeners`) that received it.
    public var listener: Int
    public var transport: SIPTransport
    public var remote: PeerAddress
    /// The driver's number for a connection; 0 for UDP.
    public var connection: UInt64

    public init(listener: Int, transport: SIPTransport, remote: PeerAddress, connection: UInt64 = 0) {
        self.listener = listener
        self.transport = transport
        self.remote = remote
        self.connection = transport == .udp ? 0 : connection
    }

    public var description: String { "\(transport.rawValue)#\(connection) \(remote) on listener \(listener)" }
}

/// Where the driver must send a message.
public enum Destination: Hashable, Sendable, CustomStringConvertible {
    /// Over an existing flow: from the UDP listener to the remote address, or down the connection.
    case flow(Flow)
    /// To an address that may need resolving, with the transport of `listener`: for UDP sent from that
    /// listener's socket; for TCP and TLS over a connection to the address, reused or opened.
    case address(listener: Int, host: String, port: UInt16)

    public var description: String {
        switch self {
        case .flow(let flow): "flow \(flow)"
        case .address(let listener, let host, let port): "\(host):\(port) via listener \(listener)"
        }
    }
}

/// One local socket the proxy listens on, with the address it writes into Via, Record-Route and Path.
public struct ProxyListener: Hashable, Sendable {
    public var transport: SIPTransport
    /// The host written into headers: the bound address, or the public host when bound to a wildcard.
    public var host: String {
        didSet { sipHost = Self.parse(host) }
    }
    public var port: UInt16
    /// `host` parsed once: every Via, Record-Route and sent-by comparison needs it.
    private(set) var sipHost: SIPHost

    public init(transport: SIPTransport, host: String, port: UInt16) {
        self.transport = transport
        self.host = host
        self.port = port
        self.sipHost = Self.parse(host)
    }

    private static func parse(_ host: String) -> SIPHost { SIPHost(host) ?? .hostname(host) }
}

/// What the core asks its driver to do.
public enum ProxyAction: Hashable, Sendable {
    /// Serialize `message` and send it to `destination`. When `transaction` is set and the send fails,
    /// the driver reports it with `EdgeProxy.sendFailed(transaction:now:)` (§17.1.4).
    case send(SIPMessage, to: Destination, transaction: TransactionKey?)
    /// Answer an RFC 5626 §3.5.1 CRLFCRLF keep-alive on this stream flow with one CRLF.
    case pong(Flow)
}
