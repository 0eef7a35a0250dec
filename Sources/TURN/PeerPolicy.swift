import STUN

/// Decides whether a TURN client may relay to a peer: the server-side filter that keeps a
/// TURN relay from being an SSRF hole into the server's own host and networks (RFC 8656 §21,
/// "Security Considerations"; RFC 6156 §9.1 on tunnelled IPv6 addresses and the tunnel
/// amplification attack; coturn's `denied-peer-ip` / `allowed-peer-ip` play the same part).
///
/// A pure value: the TURN server asks it before it installs a permission (CreatePermission,
/// ChannelBind) and answers 403 (Forbidden) when it says no, as RFC 8656 lets a server do
/// for a peer address it does not allow.
///
/// ## Rules, in order
/// 1. A malformed address (byte count not matching its family) is denied.
/// 2. An address equal to one of `serverAddresses`, on any port, is denied, **even when an
///    allow range covers it**: relaying to the server's own addresses would let a client
///    reach the TURN listener itself (a forwarding loop) or any other service on the host.
///    This is the one rule the allow list cannot lift.
/// 3. An address in an `allow` range of its own family is allowed (the operator's opt-in,
///    e.g. `10.1.2.0/24` for the LAN's media servers, wins over the next rule).
/// 4. Otherwise an address in `specialPurposeRanges` or in a `deny` range is denied.
/// 5. Everything else is allowed.
///
/// ## IPv4 embedded in IPv6
/// An IPv6 address that carries an IPv4 address (IPv4-mapped `::ffff:a.b.c.d`,
/// IPv4-compatible `::a.b.c.d`, IPv4-translated `::ffff:0:a.b.c.d`, NAT64 `64:ff9b::/96` and
/// `64:ff9b:1::/48`, 6to4 `2002:AABB:CCDD::/48`, Teredo `2001:0::/32` with its server and its
/// obfuscated client address) may be delivered to that IPv4 address by the host's dual-stack
/// socket or by a translator or relay on the path. Such an address is allowed only if the
/// IPv6 address passes rules 2–4 **and** every embedded IPv4 address passes rules 2–4 on its
/// own. Consequences:
/// - All these prefixes are special-purpose, so none is reachable by default.
/// - To opt in, the allow list must name the IPv6 form explicitly (`64:ff9b::/96` for a
///   NAT64 in use); an IPv4 allow range alone never opens `::ffff:10.1.2.3`.
/// - Even then the embedded IPv4 gets the IPv4 verdict: with `64:ff9b::/96` allowed,
///   `64:ff9b::8.8.8.8` passes but `64:ff9b::127.0.0.1` does not, unless `127.0.0.0/8` is
///   allowed too.
///
/// For `64:ff9b:1::/48` (RFC 8215), which may carry the IPv4 address at any RFC 6052 §2.2
/// position, only the /96 layout (the last 32 bits) is checked: an operator who allows part
/// of that prefix with another layout must also deny the IPv6 forms of the IPv4 ranges it
/// must not reach. ISATAP interface identifiers (RFC 5214) are not treated as embedding,
/// since they are routed by the IPv6 prefix, not the IPv4 address.
///
/// Directed broadcast addresses of public subnets cannot be known without the interface
/// table; the relay socket should not have `SO_BROADCAST` set.
public struct PeerPolicy: Sendable {
    /// Ranges the operator opts in to; see the type's rules for what they cannot lift.
    public let allow: [AddressRange]
    /// Ranges denied on top of `specialPurposeRanges`.
    public let deny: [AddressRange]
    /// The server's own addresses (listeners, relay and advertised external addresses):
    /// denied on every port. List concrete interface addresses: a wildcard such as `0.0.0.0`
    /// (already special-purpose) does not stand for the host's real ones.
    public let serverAddresses: [TransportAddress]
    /// `serverAddresses` with the IPv4 addresses embedded in them, worked out once.
    private let serverForms: [Form]

    public init(allow: [AddressRange] = [], deny: [AddressRange] = [], serverAddresses: [TransportAddress] = []) {
        self.allow = allow
        self.deny = deny
        self.serverAddresses = serverAddresses
        self.serverForms = serverAddresses.flatMap { Self.forms(of: $0) ?? [] }
    }

    /// The verdict on one peer address.
    public enum Verdict: Hashable, Sendable {
        case allowed
        /// `reason` is for logs and metrics only and must never be sent to the client: it
        /// would tell an attacker how the filter is configured.
        case denied(reason: String)
    }

    /// Applies the rules in the type's documentation to `peer`; its port is ignored.
    public func check(_ peer: TransportAddress) -> Verdict {
        guard let forms = Self.forms(of: peer) else {
            return .denied(reason: "malformed address")
        }
        // Rule 2 first, over every form, so the allow list cannot reach the server itself.
        for form in forms where serverForms.contains(where: { $0.sameAddress(as: form) }) {
            return .denied(reason: "server's own address \(form.describe())")
        }
        for form in forms {
            if let reason = denial(of: form) {
                return .denied(reason: reason)
            }
        }
        return .allowed
    }

    /// Rules 3 and 4 for one form of the peer: nil when it passes.
    private func denial(of form: Form) -> String? {
        func holds(_ range: AddressRange) -> Bool { range.contains(family: form.family, bytes: form.bytes) }
        if allow.contains(where: holds) {
            return nil
        }
        if let hit = Self.specialPurposeTable.first(where: { holds($0.range) }) {
            return "\(form.describe()) is in special-purpose range \(hit.range) (\(hit.name))"
        }
        if let hit = deny.first(where: holds) {
            return "\(form.describe()) is in deny range \(hit)"
        }
        return nil
    }

    // MARK: - Forms of an address

    /// One address to judge: the peer itself, or an IPv4 address embedded in it.
    struct Form {
        var family: TransportAddress.Family
        var bytes: [UInt8]
        /// How the address was found: nil for the peer itself, else the embedding's name.
        var embedding: String?

        func sameAddress(as other: Form) -> Bool {
            family == other.family && bytes == other.bytes
        }

        func describe() -> String {
            let text = TransportAddress(bytes: bytes, port: 0)?.addressText ?? "?"
            return embedding.map { "embedded IPv4 \(text) (\($0))" } ?? text
        }
    }

    /// The address itself followed by every IPv4 address embedded in it; nil when the byte
    /// count does not match the family.
    static func forms(of address: TransportAddress) -> [Form]? {
        switch (address.family, address.address.count) {
        case (.ipv4, 4):
            return [Form(family: .ipv4, bytes: address.address)]
        case (.ipv6, 16):
            let own = Form(family: .ipv6, bytes: address.address)
            let embedded = embeddedIPv4(in: address.address).map {
                Form(family: .ipv4, bytes: $0.bytes, embedding: $0.name)
            }
            return [own] + embedded
        default:
            return nil
        }
    }

    /// The IPv4 addresses that the standard transition formats embed in a 16-byte IPv6
    /// address, each with the format's name.
    static func embeddedIPv4(in b: [UInt8]) -> [(bytes: [UInt8], name: String)] {
        precondition(b.count == 16)
        let last4 = Array(b[12..<16])
        func zero(_ range: Range<Int>) -> Bool { b[range].allSatisfy { $0 == 0 } }
        // RFC 4291 §2.5.5.2: ::ffff:a.b.c.d.
        if zero(0..<10), b[10] == 0xff, b[11] == 0xff { return [(last4, "IPv4-mapped")] }
        // RFC 4291 §2.5.5.1 (deprecated): ::a.b.c.d, which includes :: and ::1.
        if zero(0..<12) { return [(last4, "IPv4-compatible")] }
        // RFC 2765 §2.1 (obsoleted by RFC 6145, which dropped it): ::ffff:0:a.b.c.d.
        if zero(0..<8), b[8] == 0xff, b[9] == 0xff, zero(10..<12) { return [(last4, "IPv4-translated")] }
        // RFC 6052 §2.1: the well-known prefix 64:ff9b::/96.
        if b[0...3] == [0x00, 0x64, 0xff, 0x9b], zero(4..<12) { return [(last4, "NAT64 64:ff9b::/96")] }
        // RFC 8215: the local-use prefix 64:ff9b:1::/48, checked in its /96 layout.
        if b[0...5] == [0x00, 0x64, 0xff, 0x9b, 0x00, 0x01] { return [(last4, "NAT64 64:ff9b:1::/48")] }
        // RFC 3056 §2: 2002:AABB:CCDD::/48.
        if b[0] == 0x20, b[1] == 0x02 { return [(Array(b[2..<6]), "6to4")] }
        // RFC 4380 §4: 2001:0000:SSSS:SSSS:flags:port:CCCC:CCCC, the client address inverted.
        if b[0...3] == [0x20, 0x01, 0x00, 0x00] {
            return [(Array(b[4..<8]), "Teredo server"), (last4.map { $0 ^ 0xff }, "Teredo client")]
        }
        return []
    }

    // MARK: - Special-purpose ranges

    /// What is denied by default: the IANA IPv4 Special-Purpose Address Registry and the IANA
    /// IPv6 Special-Purpose Address Registry (RFC 6890, as updated by RFC 8190; checked
    /// against the registries as of 2025, including `3fff::/20`, `5f00::/16` and
    /// `100:0:0:1::/64`), plus multicast (IPv4 Multicast Address Space Registry, RFC 5771;
    /// RFC 4291 §2.7), limited broadcast, the deprecated IPv4-compatible (`::/96`),
    /// IPv4-translated (`::ffff:0:0:0/96`) and site-local (`fec0::/10`) blocks.
    ///
    /// Entries covered by a wider one are listed by the wider one only (`192.0.0.0/24` holds
    /// the `192.0.0.x` anycast and NAT64-discovery entries; `2001::/23` holds Teredo,
    /// benchmarking, AMT, AS112, ORCHIDv2, DRIP and the `2001:1::x` anycast addresses).
    /// Blocks the registries mark globally reachable are denied too when a media relay has no
    /// business sending to them (`192.88.99.0/24`, AS112, the TURN and PCP anycast addresses,
    /// NAT64's `64:ff9b::/96`): an operator who needs one adds it to `allow`.
    public static let specialPurposeRanges: [AddressRange] = specialPurposeTable.map(\.range)

    /// `specialPurposeRanges` with the registry's name and reference for each, for logs.
    static let specialPurposeTable: [(range: AddressRange, name: String)] = [
        // IANA IPv4 Special-Purpose Address Registry.
        ("0.0.0.0/8", "\"this network\", RFC 791, RFC 1122 §3.2.1.3"),
        ("10.0.0.0/8", "private-use, RFC 1918"),
        ("100.64.0.0/10", "shared address space (CGNAT), RFC 6598"),
        ("127.0.0.0/8", "loopback, RFC 1122 §3.2.1.3"),
        ("169.254.0.0/16", "link-local, RFC 3927"),
        ("172.16.0.0/12", "private-use, RFC 1918"),
        ("192.0.0.0/24", "IETF protocol assignments, RFC 6890 §2.1"),
        ("192.0.2.0/24", "documentation TEST-NET-1, RFC 5737"),
        ("192.31.196.0/24", "AS112-v4, RFC 7535"),
        ("192.52.193.0/24", "AMT, RFC 7450"),
        ("192.88.99.0/24", "deprecated 6to4 relay anycast, RFC 7526"),
        ("192.168.0.0/16", "private-use, RFC 1918"),
        ("192.175.48.0/24", "direct delegation AS112 service, RFC 7534"),
        ("198.18.0.0/15", "benchmarking, RFC 2544"),
        ("198.51.100.0/24", "documentation TEST-NET-2, RFC 5737"),
        ("203.0.113.0/24", "documentation TEST-NET-3, RFC 5737"),
        ("240.0.0.0/4", "reserved, RFC 1112 §4"),
        ("255.255.255.255/32", "limited broadcast, RFC 8190, RFC 919 §7"),
        // IPv4 Multicast Address Space Registry.
        ("224.0.0.0/4", "multicast, RFC 5771"),
        // IANA IPv6 Special-Purpose Address Registry.
        ("::/128", "unspecified, RFC 4291 §2.5.2"),
        ("::1/128", "loopback, RFC 4291 §2.5.3"),
        ("::ffff:0:0/96", "IPv4-mapped, RFC 4291 §2.5.5.2"),
        ("64:ff9b::/96", "IPv4-IPv6 translation, RFC 6052"),
        ("64:ff9b:1::/48", "local-use IPv4-IPv6 translation, RFC 8215"),
        ("100::/64", "discard-only, RFC 6666"),
        ("100:0:0:1::/64", "dummy IPv6 prefix, RFC 9780"),
        ("2001::/23", "IETF protocol assignments (incl. Teredo 2001::/32), RFC 2928, RFC 4380"),
        ("2001:db8::/32", "documentation, RFC 3849"),
        ("2002::/16", "6to4, RFC 3056"),
        ("2620:4f:8000::/48", "direct delegation AS112 service, RFC 7534"),
        ("3fff::/20", "documentation, RFC 9637"),
        ("5f00::/16", "SRv6 SIDs, RFC 9602"),
        ("fc00::/7", "unique-local, RFC 4193"),
        ("fe80::/10", "link-local unicast, RFC 4291 §2.5.6"),
        // Outside the registry: deprecated formats and multicast.
        ("::/96", "deprecated IPv4-compatible, RFC 4291 §2.5.5.1"),
        ("::ffff:0:0:0/96", "IPv4-translated, RFC 2765 §2.1"),
        ("fec0::/10", "deprecated site-local, RFC 3879"),
        ("ff00::/8", "multicast, RFC 4291 §2.7"),
    ].map { cidr, name in
        guard let range = AddressRange(cidr: cidr) else { preconditionFailure("bad built-in range \(cidr)") }
        return (range, name)
    }
}
