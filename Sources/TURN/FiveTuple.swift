import STUN

/// How a client reaches the server (RFC 8656 §2: the client-to-server transport).
public enum ClientTransport: String, Hashable, Sendable {
    case udp, tcp, tls

    /// Hashed by case: the default for a `String` raw value hashes the string, and a
    /// `FiveTuple` is hashed for every relayed datagram.
    public func hash(into hasher: inout Hasher) {
        switch self {
        case .udp: hasher.combine(0 as UInt8)
        case .tcp: hasher.combine(1 as UInt8)
        case .tls: hasher.combine(2 as UInt8)
        }
    }
}

/// The 5-tuple that names an allocation (RFC 8656 §2): client address, server address and
/// transport. One allocation at most per 5-tuple (§7).
public struct FiveTuple: Hashable, Sendable, CustomStringConvertible {
    public var client: TransportAddress
    public var server: TransportAddress
    public var transport: ClientTransport

    public init(client: TransportAddress, server: TransportAddress, transport: ClientTransport) {
        self.client = client
        self.server = server
        self.transport = transport
    }

    public var description: String { "\(transport.rawValue) \(client) → \(server)" }

    /// Six words, the transport folded into the server address's last one (hashed for every
    /// relayed datagram).
    public func hash(into hasher: inout Hasher) {
        client.hash(into: &hasher)
        let code: UInt8
        switch transport {
        case .udp: code = 0
        case .tcp: code = 1
        case .tls: code = 2
        }
        server.hash(into: &hasher, tag: code)
    }
}

/// The time, given to the core by its driver: monotonic for lifetimes, wall-clock seconds for
/// what crosses machines (REST credential expiry, nonces).
public struct Moment: Sendable {
    public var monotonic: MonotonicTime
    public var unixSeconds: UInt64

    public init(monotonic: MonotonicTime, unixSeconds: UInt64) {
        self.monotonic = monotonic
        self.unixSeconds = unixSeconds
    }
}
