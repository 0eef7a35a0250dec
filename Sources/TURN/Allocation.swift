import STUN

/// One allocation (RFC 8656 §2.2): a relayed transport address bound to a client's 5-tuple,
/// with its permissions (§9) and channel bindings (§12).
public struct Allocation: Sendable {
    public let fiveTuple: FiveTuple
    /// The address the relay socket is bound to.
    public let relayed: TransportAddress
    public let username: String
    /// The long-term key the client authenticated with; later requests must use the same.
    let key: [UInt8]
    public internal(set) var expiry: ContinuousClock.Instant
    /// Permission per peer IP address (the port is not part of a permission, §9).
    var permissions: [IPHost: Permission] = [:]
    var channelsByNumber: [UInt16: ChannelBinding] = [:]
    var channelsByPeer: [TransportAddress: UInt16] = [:]
    /// The last Allocate transaction, to answer a UDP retransmission with the same success (§7.2).
    var allocateTransaction: TransactionID
    var allocateResponse: [UInt8]
    /// Relayed bytes per second, both directions (`bandwidthPerAllocation`).
    var bandwidth: TokenBucket

    public var permissionCount: Int { permissions.count }
    public var channelCount: Int { channelsByNumber.count }

    func hasPermission(for peer: TransportAddress, now: ContinuousClock.Instant) -> Bool {
        guard let permission = permissions[peer.host] else { return false }
        return permission.expiry > now
    }
}

/// A permission for one peer IP address (RFC 8656 §9).
struct Permission: Sendable {
    var expiry: ContinuousClock.Instant
    /// Granted only because the peer is a live relayed address of this server (relay to
    /// relay): then just those exact addresses are reachable, never the IP's other ports.
    var relayOnly: Bool
}

/// A channel bound to one peer transport address (RFC 8656 §12).
struct ChannelBinding: Sendable {
    var peer: TransportAddress
    var expiry: ContinuousClock.Instant
}

/// Where the core gets relayed transport addresses: the driver binds real sockets in the
/// configured port range; tests hand out fake ones.
public protocol RelayAddressProvider {
    /// A fresh relayed address of `family`, or nil when none is free (→ 508). With
    /// `reserveNext` the port is even and the next one is bound too, and returned as `reserved`
    /// (RFC 8656 §7.2, EVEN-PORT with the R bit: RTP on the even port, RTCP on the next).
    mutating func open(family: TransportAddress.Family, evenPort: Bool, reserveNext: Bool)
        -> (relayed: TransportAddress, reserved: TransportAddress?)?
    mutating func close(_ relayed: TransportAddress)
}
