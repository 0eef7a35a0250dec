import SIP

/// What the proxy does with a request from outside whose Request-URI names neither this proxy, its
/// domains nor a trunk server.
public enum ForeignDomainPolicy: String, Hashable, Sendable, CaseIterable {
    /// 403 Forbidden: the default. An edge proxy that forwarded such requests anywhere would be an open
    /// relay; one that silently sent them to the trunks would hide misconfigured clients.
    case reject
    /// Send them to the default trunk group unchanged, for trunks that route on the user part only.
    case trunk
}

/// Everything the proxy core needs, already validated (the driver builds it from the configuration file).
public struct ProxyConfiguration: Hashable, Sendable {
    /// The sockets the driver listens on; `Flow.listener` and `Destination` refer to them by index.
    public var listeners: [ProxyListener]
    /// Host names (and addresses) that mean "this proxy" in a Request-URI, on any port: `sip.domain`
    /// and the public host. A request from outside to one of them goes to the default trunk group.
    public var domains: [String]
    /// The first group is the default for requests from outside.
    public var trunkGroups: [TrunkGroup]
    public var probing: ProbeSettings
    /// Requests per second one source IP may send (0 = unlimited); trunks are exempt.
    public var requestsPerSecond: Int
    public var banDuration: Duration
    /// Open connections one source IP may hold (0 = unlimited).
    public var connectionsPerSource: Int
    /// The largest message accepted; larger ones are answered 513 when possible, else dropped.
    public var maxMessageSize: Int
    /// Server transactions held at most (0 = unlimited). Beyond it, requests that start something
    /// new (no To tag: INVITE, REGISTER, OPTIONS...) are answered 503 with Retry-After without any
    /// state, while requests within a dialog (BYE, re-INVITE) still pass, so calls can end.
    public var maxTransactions: Int
    public var foreignDomains: ForeignDomainPolicy
    public var timers: TransactionTimers
    /// The HMAC key of flow tokens (at least 16 random bytes).
    public var flowTokenSecret: [UInt8]

    public init(
        listeners: [ProxyListener], domains: [String] = [], trunkGroups: [TrunkGroup],
        probing: ProbeSettings = ProbeSettings(), requestsPerSecond: Int = 0, banDuration: Duration = .seconds(60),
        connectionsPerSource: Int = 0, maxMessageSize: Int = 65_535, maxTransactions: Int = 0,
        foreignDomains: ForeignDomainPolicy = .reject, timers: TransactionTimers = TransactionTimers(),
        flowTokenSecret: [UInt8]
    ) {
        self.listeners = listeners
        self.domains = domains
        self.trunkGroups = trunkGroups
        self.probing = probing
        self.requestsPerSecond = requestsPerSecond
        self.banDuration = banDuration
        self.connectionsPerSource = connectionsPerSource
        self.maxMessageSize = maxMessageSize
        self.maxTransactions = maxTransactions
        self.foreignDomains = foreignDomains
        self.timers = timers
        self.flowTokenSecret = flowTokenSecret
    }
}

/// Which way a forwarded message travels across the edge.
public enum EdgeDirection: Hashable, Sendable {
    /// From a client on the Internet toward a trunk on the LAN.
    case towardTrunk
    /// From a trunk toward a client.
    case towardOutside
}

/// THE MEDIA BRIDGE HOOK. Every SIP body the proxy forwards (offers in INVITE, UPDATE, PRACK, ACK;
/// answers in 18x/2xx responses) passes through this before it is sent. Today the proxy uses
/// `PassThroughSessionDescriptions`, so SDP crosses unchanged; the issue that anchors media will provide
/// an implementation that sends rtpengine "ng" `offer`/`answer` to stagedoor-bridge and returns the
/// rewritten SDP (and a `delete` on BYE/CANCEL/failure, which will need a hook of its own). Calls must stay
/// pure here: the implementation will queue the bridge exchange in the driver and resume the message.
public protocol SessionDescriptionHandler: Sendable {
    /// The body to forward in place of `body`; `contentType` is the message's Content-Type, if any.
    func forwarding(
        body: [UInt8], contentType: MediaType?, callID: String, direction: EdgeDirection
    ) -> [UInt8]
}

/// Forwards bodies unchanged (the behaviour until media anchoring lands).
public struct PassThroughSessionDescriptions: SessionDescriptionHandler {
    public init() {}

    public func forwarding(
        body: [UInt8], contentType: MediaType?, callID: String, direction: EdgeDirection
    ) -> [UInt8] {
        body
    }
}

/// What the proxy counted since it started.
public struct ProxyCounters: Hashable, Sendable {
    public var requestsReceived = 0
    public var responsesReceived = 0
    public var requestsForwarded = 0
    public var responsesForwarded = 0
    public var retransmissionsAbsorbed = 0
    /// Requests answered by the proxy itself, by status code.
    public var localResponses: [UInt16: Int] = [:]
    /// Messages that could not be parsed (answered 400/505/513 when possible).
    public var malformed = 0
    /// Messages dropped unanswered (unparsable without a Via, stray responses, requests from banned sources).
    public var dropped = 0
    /// Requests from outside refused because they would go somewhere other than a trunk.
    public var relayRefused = 0
    /// Requests sent to the next trunk server after a timeout, 408 or 5xx.
    public var failovers = 0
    public var rateLimited = 0
    public var connectionsRefused = 0
    /// Requests answered 503 because the proxy held `maxTransactions` server transactions.
    public var overloaded = 0

    public init() {}
}

/// Something the driver should log.
public enum ProxyEvent: Hashable, Sendable {
    case trunkState(TrunkServerID, TrunkServer, ServerHealth.State)
    case sourceBanned(String)
}

/// The proxy's state for `status`.
public struct ProxySnapshot: Hashable, Sendable {
    public struct Trunk: Hashable, Sendable {
        public var group: String
        public var server: TrunkServer
        public var state: ServerHealth.State
    }

    public var serverTransactions: Int
    public var clientTransactions: Int
    public var flows: Int
    public var flowsByTransport: [SIPTransport: Int]
    public var trunks: [Trunk]
    public var bannedSources: [String]
    public var counters: ProxyCounters
}

/// FNV-1a 64: a stable hash (the same in every process and on every box) for branches and tags.
struct StableHash {
    private(set) var value: UInt64 = 0xcbf2_9ce4_8422_2325

    mutating func combine(_ text: String) {
        // Over the contiguous UTF-8 of a native string when there is one: the same bytes in the same
        // order, without the per-byte index work of `String.UTF8View` iteration.
        if let hashed = text.utf8.withContiguousStorageIfAvailable({ combine(bytes: $0) }) {
            value = hashed
        } else {
            for byte in text.utf8 {
                value ^= UInt64(byte)
                value = value &* 0x0000_0100_0000_01B3
            }
        }
        value ^= 0xFF
        value = value &* 0x0000_0100_0000_01B3
    }

    /// FNV-1a of `bytes` continued from `value`; the new value.
    private func combine(bytes: UnsafeBufferPointer<UInt8>) -> UInt64 {
        var value = self.value
        for byte in bytes {
            value ^= UInt64(byte)
            value = value &* 0x0000_0100_0000_01B3
        }
        return value
    }

    /// A URI by its parts, as its text would be hashed but without writing that text out first.
    mutating func combine(_ uri: AddressURI) {
        switch uri {
        case .absolute(let text): combine(text)
        case .sip(let sip):
            combine(sip.scheme)
            combine(sip.user ?? "")
            combine(sip.password ?? "")
            combine(sip.host.bareHost)
            combine(UInt64(sip.port ?? 0))
            for parameter in sip.parameters {
                combine(parameter.name)
                combine(parameter.value ?? "")
            }
            for header in sip.headers {
                combine(header.name)
                combine(header.value ?? "")
            }
        }
    }

    mutating func combine(_ number: UInt64) {
        combine(String(number))
    }

    private static let hexDigits: [UInt8] = Array("0123456789abcdef".utf8)

    /// The value as 16 lowercase hex digits.
    var hex: String {
        let digits = Self.hexDigits
        return String(unsafeUninitializedCapacity: 16) { buffer in
            for index in 0..<16 { buffer[index] = digits[Int(value >> UInt64(60 - 4 * index) & 0xF)] }
            return 16
        }
    }
}
