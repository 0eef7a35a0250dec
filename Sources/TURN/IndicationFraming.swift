import STUN

/// Send and Data indications (RFC 8656 §11) read and written in place, for the relay's data
/// path: a client that does not bind channels sends every datagram as a Send indication and
/// gets every reply as a Data indication, so their framing must cost no more than ChannelData's,
/// i.e. no allocation. Only the plain shape is handled here (XOR-PEER-ADDRESS and DATA, with no
/// integrity or fingerprint, as indications are sent); anything else goes through the full
/// codec (`AllocationServer.handle`), which decides the same way, only slower.
public enum IndicationFraming {
    /// STUN's message header (RFC 8489 §5).
    static let headerLength = 20
    static let sendIndication: UInt16 = 0x0016
    static let dataIndication: UInt16 = 0x0017

    /// What a Send indication says, read in place.
    public enum SendIndication: Equatable, Sendable {
        /// The peer and where DATA's value lies in the message.
        case relay(peer: TransportAddress, payload: Range<Int>)
        /// RFC 8489 §6.3.2 and RFC 8656 §11.2 say drop it (an unknown comprehension-required
        /// attribute, DONT-FRAGMENT, no peer or no data).
        case drop
        /// Not a plain Send indication, or a malformed one: for the full codec.
        case other
    }

    /// Reads `bytes` as a Send indication.
    public static func readSendIndication(_ bytes: UnsafeRawBufferPointer) -> SendIndication {
        guard bytes.count >= headerLength, load16(bytes, 0) == sendIndication,
            load32(bytes, 4) == STUNCodec.magicCookie,
            Int(load16(bytes, 2)) == bytes.count - headerLength, bytes.count % 4 == 0
        else { return .other }
        var peer: TransportAddress?
        var payload: Range<Int>?
        var offset = headerLength
        while offset < bytes.count {
            guard offset + 4 <= bytes.count else { return .other }
            let type = load16(bytes, offset)
            let length = Int(load16(bytes, offset + 2))
            let value = offset + 4
            guard value + length <= bytes.count else { return .other }
            switch type {
            case STUNAttributeType.xorPeerAddress:
                // The first one counts (RFC 8656 §11.2 names one); later ones are ignored.
                if peer == nil {
                    guard let address = readXORAddress(bytes, at: value, length: length) else { return .other }
                    peer = address
                }
            case STUNAttributeType.data:
                if payload == nil { payload = value..<(value + length) }
            case STUNAttributeType.dontFragment:
                return .drop
            case STUNAttributeType.messageIntegrity, STUNAttributeType.messageIntegritySHA256,
                STUNAttributeType.fingerprint:
                return .other
            default:
                // Comprehension-optional attributes are ignored; a comprehension-required one
                // this server does not know discards the indication (RFC 8489 §6.3.2); one it
                // knows has no business here but is left to the codec to judge.
                if type < 0x8000 { return STUNAttributeType.known.contains(type) ? .other : .drop }
            }
            offset = value + (length + 3) & ~3
        }
        guard let peer, let payload else { return .drop }
        return .relay(peer: peer, payload: payload)
    }

    /// Bytes before the payload of a Data indication from `peer`: the STUN header,
    /// XOR-PEER-ADDRESS and DATA's attribute header.
    public static func dataIndicationPrefixLength(peer: TransportAddress) -> Int {
        headerLength + 4 + (peer.family == .ipv4 ? 8 : 20) + 4
    }

    /// Writes the part of a Data indication (RFC 8656 §11.3) before its payload into `prefix`
    /// (`dataIndicationPrefixLength(peer:)` bytes); the payload and then `padding(payloadLength)`
    /// zero bytes follow it on the wire. `transactionID` is 12 random bytes.
    public static func writeDataIndicationPrefix(
        peer: TransportAddress, payloadLength: Int, transactionID: (UInt64, UInt32),
        into prefix: UnsafeMutableRawBufferPointer
    ) {
        let addressLength = peer.family == .ipv4 ? 8 : 20
        let messageLength = 4 + addressLength + 4 + payloadLength + padding(payloadLength)
        store16(prefix, 0, dataIndication)
        store16(prefix, 2, UInt16(messageLength))
        store32(prefix, 4, STUNCodec.magicCookie)
        prefix.storeBytes(of: transactionID.0, toByteOffset: 8, as: UInt64.self)
        prefix.storeBytes(of: transactionID.1, toByteOffset: 16, as: UInt32.self)
        // XOR-PEER-ADDRESS (RFC 8489 §14.2): the port XORed with the cookie's top half, the
        // address with the cookie (and, for IPv6, the transaction ID).
        store16(prefix, 20, STUNAttributeType.xorPeerAddress)
        store16(prefix, 22, UInt16(addressLength))
        prefix[24] = 0
        prefix[25] = peer.family == .ipv4 ? 0x01 : 0x02
        store16(prefix, 26, peer.port ^ UInt16(STUNCodec.magicCookie >> 16))
        peer.host.withUnsafeBytes { host in
            for index in 0..<host.count { prefix[28 + index] = host[index] ^ prefix[4 + index] }
        }
        let data = 24 + addressLength
        store16(prefix, data, STUNAttributeType.data)
        store16(prefix, data + 2, UInt16(payloadLength))
    }

    /// Zero bytes after a payload of `length` to the attribute's 4-byte boundary.
    public static func padding(_ length: Int) -> Int { (4 - length % 4) % 4 }

    // MARK: Bytes

    private static func readXORAddress(_ bytes: UnsafeRawBufferPointer, at offset: Int, length: Int)
        -> TransportAddress?
    {
        guard length >= 4 else { return nil }
        let port = load16(bytes, offset + 2) ^ UInt16(STUNCodec.magicCookie >> 16)
        switch bytes[offset + 1] {
        case 0x01 where length == 8:
            var raw = (UInt8(0), UInt8(0), UInt8(0), UInt8(0))
            withUnsafeMutableBytes(of: &raw) { host in
                for index in 0..<4 { host[index] = bytes[offset + 4 + index] ^ bytes[4 + index] }
            }
            return withUnsafeBytes(of: raw) { TransportAddress(family: .ipv4, host: IPHost(rawBytes: $0), port: port) }
        case 0x02 where length == 20:
            var raw = (UInt64(0), UInt64(0))
            withUnsafeMutableBytes(of: &raw) { host in
                for index in 0..<16 { host[index] = bytes[offset + 4 + index] ^ bytes[4 + index] }
            }
            return withUnsafeBytes(of: raw) { TransportAddress(family: .ipv6, host: IPHost(rawBytes: $0), port: port) }
        default:
            return nil
        }
    }

    private static func load16(_ bytes: UnsafeRawBufferPointer, _ offset: Int) -> UInt16 {
        UInt16(bytes[offset]) << 8 | UInt16(bytes[offset + 1])
    }

    private static func load32(_ bytes: UnsafeRawBufferPointer, _ offset: Int) -> UInt32 {
        UInt32(load16(bytes, offset)) << 16 | UInt32(load16(bytes, offset + 2))
    }

    private static func store16(_ bytes: UnsafeMutableRawBufferPointer, _ offset: Int, _ value: UInt16) {
        bytes[offset] = UInt8(value >> 8)
        bytes[offset + 1] = UInt8(truncatingIfNeeded: value)
    }

    private static func store32(_ bytes: UnsafeMutableRawBufferPointer, _ offset: Int, _ value: UInt32) {
        store16(bytes, offset, UInt16(value >> 16))
        store16(bytes, offset + 2, UInt16(truncatingIfNeeded: value))
    }
}
