import STUN

/// One allocation (RFC 8656 §2.2): one relayed transport address, or two of different
/// families (a dual allocation, §7.2 step 9), bound to a client's 5-tuple, with its permissions
/// (§9) and channel bindings (§12).
public struct Allocation: Sendable {
    public let fiveTuple: FiveTuple
    /// The address the relay socket is bound to; in a dual allocation, the IPv4 one (the first
    /// XOR-RELAYED-ADDRESS of the Allocate success).
    public internal(set) var relayed: TransportAddress {
        didSet { routes = RouteCache() }
    }
    /// The second relayed address of a dual allocation (ADDITIONAL-ADDRESS-FAMILY, RFC 8656
    /// §18.11): the IPv6 one. Nil for an allocation of one family.
    public internal(set) var additionalRelayed: TransportAddress? {
        didSet { routes = RouteCache() }
    }
    public let username: String
    /// The long-term key the client authenticated with; later requests must use the same.
    let key: [UInt8]
    public internal(set) var expiry: MonotonicTime
    /// Permission per peer IP address (the port is not part of a permission, §9).
    var permissions: [IPHost: Permission] = [:] {
        didSet { routes = RouteCache() }
    }
    var channelsByNumber: [UInt16: ChannelBinding] = [:] {
        didSet { routes = RouteCache() }
    }
    /// The same bindings by peer, each with its number and expiry (kept equal to the binding's):
    /// a peer's datagram finds its channel with one lookup.
    var channelsByPeer: [TransportAddress: PeerChannel] = [:] {
        didSet { routes = RouteCache() }
    }
    /// The last route each way, emptied by any change to the tables above or to the relayed
    /// addresses (a `didSet` that does not read the old value leaves the tables' in-place
    /// updates in place).
    var routes = RouteCache()
    /// The last Allocate transaction, to answer a UDP retransmission with the same success (§7.2).
    var allocateTransaction: TransactionID
    var allocateResponse: [UInt8]
    /// Relayed bytes per second, both directions (`bandwidthPerAllocation`).
    var bandwidth: TokenBucket

    public var permissionCount: Int { permissions.count }
    public var channelCount: Int { channelsByNumber.count }

    /// Every relayed address, `relayed` first. (Allocates: for the control path.)
    public var relayedAddresses: [TransportAddress] {
        additionalRelayed.map { [relayed, $0] } ?? [relayed]
    }

    /// The relayed address that talks to peers of `family`, nil when the allocation has none of
    /// that family: a permission, channel or Send toward such a peer is a 443 (RFC 8656 §10.2,
    /// §12.2) or dropped (§11.2). Allocates nothing; the data path asks it per datagram.
    public func relayed(for family: TransportAddress.Family) -> TransportAddress? {
        if relayed.family == family { return relayed }
        if let additionalRelayed, additionalRelayed.family == family { return additionalRelayed }
        return nil
    }

    func hasPermission(for peer: TransportAddress, now: MonotonicTime) -> Bool {
        guard let permission = permissions[peer.host] else { return false }
        return permission.expiry > now
    }
}

/// The last route taken each way through an allocation. Nearly every allocation relays to one
/// peer, so its datagrams find their way here without the three table lookups (channel,
/// permission, channel by peer), each a hash and a few cache misses after every system call.
/// A route is good until `expiry`, the earlier of its permission's and its channel's; after
/// that the tables decide again, so an expired permission or channel is never honoured.
struct RouteCache: Sendable {
    /// ChannelData from the client on `channel` goes from `relayed` to `peer`.
    struct ToPeer: Sendable {
        var channel: UInt16
        var relayed: TransportAddress
        var peer: TransportAddress
        var relayOnly: Bool
        var expiry: MonotonicTime
    }
    /// A datagram from `peer` goes to the client on `channel`, or in a Data indication (nil).
    struct FromPeer: Sendable {
        var peer: TransportAddress
        var channel: UInt16?
        var relayOnly: Bool
        var expiry: MonotonicTime
    }
    var toPeer: ToPeer?
    var fromPeer: FromPeer?
}

/// A permission for one peer IP address (RFC 8656 §9).
struct Permission: Sendable {
    var expiry: MonotonicTime
    /// Granted only because the peer is a live relayed address of this server (relay to
    /// relay): then just those exact addresses are reachable, never the IP's other ports.
    var relayOnly: Bool
}

/// A channel as seen from its peer: the number and the expiry of its binding.
struct PeerChannel: Sendable {
    var number: UInt16
    var expiry: MonotonicTime
}

/// A channel bound to one peer transport address (RFC 8656 §12).
struct ChannelBinding: Sendable {
    var peer: TransportAddress
    var expiry: MonotonicTime
}

/// Where the core gets relayed transport addresses: the driver binds real sockets in the
/// configured port range; tests hand out fake ones.
public protocol RelayAddressProvider {
    /// Whether the server relays `family` at all: when it does not, an Allocate for it is a 440
    /// (Address Family not Supported), not a 508 (RFC 8656 §7.2 step 7, §18.12).
    func serves(_ family: TransportAddress.Family) -> Bool
    /// A fresh relayed address of `family`, or nil when none is free (→ 508). With
    /// `reserveNext` the port is even and the next one is bound too, and returned as `reserved`
    /// (RFC 8656 §7.2, EVEN-PORT with the R bit: RTP on the even port, RTCP on the next).
    mutating func open(family: TransportAddress.Family, evenPort: Bool, reserveNext: Bool)
        -> (relayed: TransportAddress, reserved: TransportAddress?)?
    mutating func close(_ relayed: TransportAddress)
}

extension RelayAddressProvider {
    /// A provider that cannot tell serves every family: a failure to open is then a 508.
    public func serves(_ family: TransportAddress.Family) -> Bool { true }
}
