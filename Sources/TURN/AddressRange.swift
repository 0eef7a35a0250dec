import STUN

/// A CIDR block (RFC 4632 §3.1 for IPv4, RFC 4291 §2.3 for IPv6): a family, a network and a
/// prefix length. Ports play no part.
///
/// The stored network always has its host bits cleared, so two ranges that cover the same
/// addresses are equal and hash alike, and `description` is the canonical text
/// (`"10.1.2.3/8"` is read as, and prints as, `10.0.0.0/8`). A configuration loader that
/// wants to warn about such input can compare its text with `description`.
public struct AddressRange: Hashable, Sendable, CustomStringConvertible {
    /// The address family the range belongs to; it never contains addresses of the other one.
    public let family: TransportAddress.Family
    /// The network, in network byte order, with every bit past `prefixLength` cleared:
    /// 4 bytes for IPv4, 16 for IPv6.
    public let network: [UInt8]
    /// How many leading bits an address must share with `network`: 0...32 or 0...128.
    public let prefixLength: Int

    /// Parses `"10.0.0.0/8"`, `"fc00::/7"`, or a lone address (`"192.0.2.1"` is a /32,
    /// `"::1"` a /128).
    ///
    /// Returns nil for anything else: surrounding whitespace, a zone (`%eth0`), an empty or
    /// non-decimal prefix, a prefix longer than the family's width (32 or 128), or an IPv4
    /// octet with a leading zero (`"010.0.0.0/8"`, which `inet_aton` would read as octal:
    /// refusing it keeps the configured range from meaning two different things). Host bits
    /// set below the prefix are accepted and cleared.
    public init?(cidr: String) {
        let parts = cidr.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
        let addressText = String(parts[0])
        guard Self.hasNoAmbiguousOctets(addressText),
            let address = TransportAddress(text: addressText, port: 0)
        else { return nil }
        let width = address.address.count * 8
        var length = width
        if parts.count == 2 {
            let digits = parts[1].utf8
            guard !digits.isEmpty, digits.count <= 3, digits.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }),
                let value = Int(parts[1]), value <= width
            else { return nil }
            length = value
        }
        self.init(family: address.family, bytes: address.address, prefixLength: length)
    }

    /// Memberwise, masking the host bits. `bytes` must be 4 or 16 bytes long and agree with
    /// `family`, and `prefixLength` must fit the width: callers inside the module guarantee it.
    init(family: TransportAddress.Family, bytes: [UInt8], prefixLength: Int) {
        self.family = family
        self.prefixLength = prefixLength
        self.network = bytes.enumerated().map { index, byte in byte & Self.maskByte(index, prefixLength) }
    }

    /// Whether `address` lies in the range. The port is ignored; an address of the other
    /// family, or one whose byte count does not match its family, is never contained (no
    /// IPv4-mapped matching here: `PeerPolicy` handles embedded IPv4 explicitly).
    public func contains(_ address: TransportAddress) -> Bool {
        contains(family: address.family, bytes: address.address)
    }

    /// `contains` on raw bytes, for the embedded IPv4 addresses that `PeerPolicy` extracts.
    func contains(family: TransportAddress.Family, bytes: [UInt8]) -> Bool {
        guard family == self.family, bytes.count == network.count else { return false }
        for index in network.indices {
            let mask = Self.maskByte(index, prefixLength)
            if mask == 0 { break }
            if bytes[index] & mask != network[index] { return false }
        }
        return true
    }

    /// Canonical CIDR text: `10.0.0.0/8`, `fc00::/7`, `192.0.2.1/32` (IPv6 per RFC 5952).
    public var description: String {
        let text = TransportAddress(bytes: network, port: 0)?.addressText ?? "?"
        return "\(text)/\(prefixLength)"
    }

    /// The mask for byte `index` of an address under a prefix of `length` bits.
    private static func maskByte(_ index: Int, _ length: Int) -> UInt8 {
        let bits = length - index * 8
        if bits >= 8 { return 0xff }
        if bits <= 0 { return 0 }
        return ~(UInt8.max >> UInt8(bits))
    }

    /// False when a dotted-quad part (a whole IPv4 address or the IPv4 tail of an IPv6 one)
    /// has a leading zero, as `"010"` or `"00"` do.
    private static func hasNoAmbiguousOctets(_ text: String) -> Bool {
        let tail = text.split(separator: ":", omittingEmptySubsequences: false).last ?? Substring(text)
        guard tail.contains(".") else { return true }
        return tail.split(separator: ".", omittingEmptySubsequences: false).allSatisfy { octet in
            octet.count <= 1 || octet.first != "0"
        }
    }
}
