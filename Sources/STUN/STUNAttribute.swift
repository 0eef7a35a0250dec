/// One attribute of a STUN message (RFC 8489 §14), with the TURN attributes of RFC 8656 §18 and the
/// ICE attributes of RFC 8445 §7.1. Wire encoding and decoding live in STUNAttributeCoding.swift.
///
/// Attributes this codec does not know decode as `.unknown`; `ParsedSTUNMessage` lists those that are
/// comprehension-required (type below 0x8000) so a server can answer 420.
public enum STUNAttribute: Hashable, Sendable {
    /// MAPPED-ADDRESS (0x0001, RFC 8489 §14.1): the reflexive address, not XOR-ed (RFC 3489 servers).
    case mappedAddress(TransportAddress)
    /// XOR-MAPPED-ADDRESS (0x0020, RFC 8489 §14.2): the reflexive address, XOR-ed with the magic cookie
    /// (and the transaction ID for IPv6).
    case xorMappedAddress(TransportAddress)
    /// XOR-PEER-ADDRESS (0x0012, RFC 8656 §18.3): a peer's address; may occur more than once.
    case xorPeerAddress(TransportAddress)
    /// XOR-RELAYED-ADDRESS (0x0016, RFC 8656 §18.5): the relayed address allocated by the server.
    case xorRelayedAddress(TransportAddress)
    /// ALTERNATE-SERVER (0x8023, RFC 8489 §14.15): where to retry after 300 Try Alternate; not XOR-ed.
    case alternateServer(TransportAddress)

    /// USERNAME (0x0006, RFC 8489 §14.3): UTF-8, fewer than 509 bytes (the encoder cuts longer ones).
    case username(String)
    /// USERHASH (0x001E, RFC 8489 §14.4): SHA-256(username ":" realm), 32 bytes.
    case userhash([UInt8])
    /// REALM (0x0014, RFC 8489 §14.9): fewer than 128 characters.
    case realm(String)
    /// NONCE (0x0015, RFC 8489 §14.10): fewer than 128 characters.
    case nonce(String)
    /// SOFTWARE (0x8022, RFC 8489 §14.14): fewer than 128 characters.
    case software(String)

    /// MESSAGE-INTEGRITY (0x0008, RFC 8489 §14.5): HMAC-SHA1, 20 bytes.
    case messageIntegrity([UInt8])
    /// MESSAGE-INTEGRITY-SHA256 (0x001C, RFC 8489 §14.6): HMAC-SHA256, 16 to 32 bytes in steps of 4.
    case messageIntegritySHA256([UInt8])
    /// FINGERPRINT (0x8028, RFC 8489 §14.7): CRC-32 of the message XOR 0x5354554E.
    case fingerprint(UInt32)

    /// ERROR-CODE (0x0009, RFC 8489 §14.8).
    case errorCode(STUNErrorCode)
    /// UNKNOWN-ATTRIBUTES (0x000A, RFC 8489 §14.13): the comprehension-required types not understood.
    case unknownAttributes([UInt16])

    /// PASSWORD-ALGORITHMS (0x8002, RFC 8489 §14.11): the algorithms the server offers, in its order.
    case passwordAlgorithms([PasswordAlgorithm])
    /// PASSWORD-ALGORITHM (0x001D, RFC 8489 §14.12): the algorithm the client chose.
    case passwordAlgorithm(PasswordAlgorithm)

    /// CHANNEL-NUMBER (0x000C, RFC 8656 §18.1): 0x4000 through 0x4FFF; the RFFU half is written as zero.
    case channelNumber(UInt16)
    /// LIFETIME (0x000D, RFC 8656 §18.2): seconds.
    case lifetime(UInt32)
    /// DATA (0x0013, RFC 8656 §18.4): the application data of a Send or Data indication.
    case data([UInt8])
    /// REQUESTED-TRANSPORT (0x0019, RFC 8656 §18.8): an IANA protocol number, 17 for UDP.
    case requestedTransport(UInt8)
    /// REQUESTED-ADDRESS-FAMILY (0x0017, RFC 8656 §18.6). A family other than 0x01 or 0x02 fails to decode
    /// with `malformedAttribute(type: 0x0017)`; a server may answer that with 440.
    case requestedAddressFamily(TransportAddress.Family)
    /// ADDITIONAL-ADDRESS-FAMILY (0x8000, RFC 8656 §18.11): asks for an IPv6 relay as well.
    case additionalAddressFamily(TransportAddress.Family)
    /// ADDRESS-ERROR-CODE (0x8001, RFC 8656 §18.12): why the allocation of one family failed.
    case addressErrorCode(family: TransportAddress.Family, error: STUNErrorCode)
    /// EVEN-PORT (0x0018, RFC 8656 §18.7): one byte whose top bit asks to reserve the next port too.
    case evenPort(reserveNext: Bool)
    /// DONT-FRAGMENT (0x001A, RFC 8656 §18.9): no value.
    case dontFragment
    /// RESERVATION-TOKEN (0x0022, RFC 8656 §18.10): 8 bytes.
    case reservationToken([UInt8])

    /// PRIORITY (0x0024, RFC 8445 §7.1.1).
    case priority(UInt32)
    /// USE-CANDIDATE (0x0025, RFC 8445 §7.1.2): no value.
    case useCandidate
    /// ICE-CONTROLLED (0x8029, RFC 8445 §7.1.3): the agent's tie-breaker.
    case iceControlled(UInt64)
    /// ICE-CONTROLLING (0x802A, RFC 8445 §7.1.3): the agent's tie-breaker.
    case iceControlling(UInt64)

    /// Any other attribute, value as received without padding (RFC 8489 §14, §15).
    case unknown(type: UInt16, value: [UInt8])

    /// The wire type code (RFC 8489 §18.3).
    public var type: UInt16 {
        switch self {
        case .mappedAddress: STUNAttributeType.mappedAddress
        case .xorMappedAddress: STUNAttributeType.xorMappedAddress
        case .xorPeerAddress: STUNAttributeType.xorPeerAddress
        case .xorRelayedAddress: STUNAttributeType.xorRelayedAddress
        case .alternateServer: STUNAttributeType.alternateServer
        case .username: STUNAttributeType.username
        case .userhash: STUNAttributeType.userhash
        case .realm: STUNAttributeType.realm
        case .nonce: STUNAttributeType.nonce
        case .software: STUNAttributeType.software
        case .messageIntegrity: STUNAttributeType.messageIntegrity
        case .messageIntegritySHA256: STUNAttributeType.messageIntegritySHA256
        case .fingerprint: STUNAttributeType.fingerprint
        case .errorCode: STUNAttributeType.errorCode
        case .unknownAttributes: STUNAttributeType.unknownAttributes
        case .passwordAlgorithms: STUNAttributeType.passwordAlgorithms
        case .passwordAlgorithm: STUNAttributeType.passwordAlgorithm
        case .channelNumber: STUNAttributeType.channelNumber
        case .lifetime: STUNAttributeType.lifetime
        case .data: STUNAttributeType.data
        case .requestedTransport: STUNAttributeType.requestedTransport
        case .requestedAddressFamily: STUNAttributeType.requestedAddressFamily
        case .additionalAddressFamily: STUNAttributeType.additionalAddressFamily
        case .addressErrorCode: STUNAttributeType.addressErrorCode
        case .evenPort: STUNAttributeType.evenPort
        case .dontFragment: STUNAttributeType.dontFragment
        case .reservationToken: STUNAttributeType.reservationToken
        case .priority: STUNAttributeType.priority
        case .useCandidate: STUNAttributeType.useCandidate
        case .iceControlled: STUNAttributeType.iceControlled
        case .iceControlling: STUNAttributeType.iceControlling
        case .unknown(let type, _): type
        }
    }

    /// True when the type is below 0x8000 (RFC 8489 §14).
    public var isComprehensionRequired: Bool {
        STUNAttributeType.isComprehensionRequired(type)
    }
}
