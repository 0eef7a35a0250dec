/// The address attribute body shared by MAPPED-ADDRESS, XOR-MAPPED-ADDRESS, XOR-PEER-ADDRESS,
/// XOR-RELAYED-ADDRESS and ALTERNATE-SERVER (RFC 8489 §14.1, §14.2; RFC 8656 §18.3, §18.5).
extension TransportAddress {
    /// The address length that `family` calls for: 4 for IPv4, 16 for IPv6 (RFC 8489 §14.1).
    public static func addressLength(of family: Family) -> Int {
        family == .ipv4 ? 4 : 16
    }

    /// `address` cut or zero-padded to the length `family` calls for, so a value whose `address` was set
    /// to the wrong length still encodes to a well-formed attribute.
    var wireAddressBytes: [UInt8] {
        let length = Self.addressLength(of: family)
        if address.count == length { return address }
        let head = address.prefix(length)
        return Array(head) + Array(repeating: 0, count: length - head.count)
    }

    /// This address XOR-ed as RFC 8489 §14.2 says: the port with the top 16 bits of the magic cookie, an
    /// IPv4 address with the magic cookie, an IPv6 address with the magic cookie followed by the 96-bit
    /// transaction ID. XOR-ing twice gives back the original, so this both encodes and decodes.
    public func xored(transactionID: TransactionID) -> TransportAddress {
        xored(transactionIDBytes: transactionID.wireBytes)
    }

    func xored(transactionIDBytes: [UInt8]) -> TransportAddress {
        let cookie = STUNCodec.magicCookie
        var copy = self
        copy.port = port ^ UInt16(truncatingIfNeeded: cookie >> 16)
        var bytes = wireAddressBytes
        let mask: [UInt8] =
            [
                UInt8(truncatingIfNeeded: cookie >> 24), UInt8(truncatingIfNeeded: cookie >> 16),
                UInt8(truncatingIfNeeded: cookie >> 8), UInt8(truncatingIfNeeded: cookie),
            ] + transactionIDBytes
        for index in bytes.indices where index < mask.count {
            bytes[index] ^= mask[index]
        }
        copy.address = bytes
        return copy
    }
}
