/// A STUN message (RFC 8489 §5): a type, a 96-bit transaction ID and an ordered list of attributes.
/// The length and magic cookie of the header are not stored; the encoder writes them.
///
/// Encoding is in STUNMessageEncoding.swift; decoding is `STUNCodec.decode`.
public struct STUNMessage: Hashable, Sendable {
    public var type: STUNMessageType
    public var transactionID: TransactionID
    /// In wire order. The same attribute may appear more than once (e.g. XOR-PEER-ADDRESS).
    public var attributes: [STUNAttribute]

    public init(type: STUNMessageType, transactionID: TransactionID, attributes: [STUNAttribute] = []) {
        self.type = type
        self.transactionID = transactionID
        self.attributes = attributes
    }

    /// A message of `method` and `messageClass` with a fresh random transaction ID.
    public init(method: STUNMethod, messageClass: STUNClass, attributes: [STUNAttribute] = []) {
        self.init(
            type: STUNMessageType(method: method, messageClass: messageClass), transactionID: .random(),
            attributes: attributes)
    }

    /// The first attribute of type `type`, if any.
    public func attribute(ofType type: UInt16) -> STUNAttribute? {
        attributes.first { $0.type == type }
    }

    /// Whether an attribute of type `type` is present.
    public func contains(attributeType type: UInt16) -> Bool {
        attributes.contains { $0.type == type }
    }

    private func first<T>(_ extract: (STUNAttribute) -> T?) -> T? {
        for attribute in attributes {
            if let value = extract(attribute) { return value }
        }
        return nil
    }

    // MARK: Convenience getters: the first attribute of each kind (RFC 8489 §14, RFC 8656 §18, RFC 8445 §7.1)

    /// MAPPED-ADDRESS (RFC 8489 §14.1).
    public var mappedAddress: TransportAddress? {
        first { if case .mappedAddress(let value) = $0 { value } else { nil } }
    }

    /// XOR-MAPPED-ADDRESS (RFC 8489 §14.2), already un-XOR-ed.
    public var xorMappedAddress: TransportAddress? {
        first { if case .xorMappedAddress(let value) = $0 { value } else { nil } }
    }

    /// The first XOR-PEER-ADDRESS (RFC 8656 §18.3).
    public var xorPeerAddress: TransportAddress? {
        first { if case .xorPeerAddress(let value) = $0 { value } else { nil } }
    }

    /// Every XOR-PEER-ADDRESS, in order (RFC 8656 §9.1 allows several in CreatePermission).
    public var xorPeerAddresses: [TransportAddress] {
        attributes.compactMap { if case .xorPeerAddress(let value) = $0 { value } else { nil } }
    }

    /// The first XOR-RELAYED-ADDRESS (RFC 8656 §18.5).
    public var xorRelayedAddress: TransportAddress? {
        first { if case .xorRelayedAddress(let value) = $0 { value } else { nil } }
    }

    /// Every XOR-RELAYED-ADDRESS, in order (a dual-stack allocation has two, RFC 8656 §7.3).
    public var xorRelayedAddresses: [TransportAddress] {
        attributes.compactMap { if case .xorRelayedAddress(let value) = $0 { value } else { nil } }
    }

    /// ALTERNATE-SERVER (RFC 8489 §14.15).
    public var alternateServer: TransportAddress? {
        first { if case .alternateServer(let value) = $0 { value } else { nil } }
    }

    /// USERNAME (RFC 8489 §14.3).
    public var username: String? {
        first { if case .username(let value) = $0 { value } else { nil } }
    }

    /// USERHASH (RFC 8489 §14.4).
    public var userhash: [UInt8]? {
        first { if case .userhash(let value) = $0 { value } else { nil } }
    }

    /// REALM (RFC 8489 §14.9).
    public var realm: String? {
        first { if case .realm(let value) = $0 { value } else { nil } }
    }

    /// NONCE (RFC 8489 §14.10).
    public var nonce: String? {
        first { if case .nonce(let value) = $0 { value } else { nil } }
    }

    /// SOFTWARE (RFC 8489 §14.14).
    public var software: String? {
        first { if case .software(let value) = $0 { value } else { nil } }
    }

    /// MESSAGE-INTEGRITY (RFC 8489 §14.5): the HMAC-SHA1 as carried.
    public var messageIntegrity: [UInt8]? {
        first { if case .messageIntegrity(let value) = $0 { value } else { nil } }
    }

    /// MESSAGE-INTEGRITY-SHA256 (RFC 8489 §14.6): the HMAC-SHA256 as carried.
    public var messageIntegritySHA256: [UInt8]? {
        first { if case .messageIntegritySHA256(let value) = $0 { value } else { nil } }
    }

    /// FINGERPRINT (RFC 8489 §14.7): the value as carried.
    public var fingerprint: UInt32? {
        first { if case .fingerprint(let value) = $0 { value } else { nil } }
    }

    /// ERROR-CODE (RFC 8489 §14.8).
    public var errorCode: STUNErrorCode? {
        first { if case .errorCode(let value) = $0 { value } else { nil } }
    }

    /// UNKNOWN-ATTRIBUTES (RFC 8489 §14.13).
    public var unknownAttributes: [UInt16]? {
        first { if case .unknownAttributes(let value) = $0 { value } else { nil } }
    }

    /// PASSWORD-ALGORITHMS (RFC 8489 §14.11).
    public var passwordAlgorithms: [PasswordAlgorithm]? {
        first { if case .passwordAlgorithms(let value) = $0 { value } else { nil } }
    }

    /// PASSWORD-ALGORITHM (RFC 8489 §14.12).
    public var passwordAlgorithm: PasswordAlgorithm? {
        first { if case .passwordAlgorithm(let value) = $0 { value } else { nil } }
    }

    /// CHANNEL-NUMBER (RFC 8656 §18.1).
    public var channelNumber: UInt16? {
        first { if case .channelNumber(let value) = $0 { value } else { nil } }
    }

    /// LIFETIME in seconds (RFC 8656 §18.2).
    public var lifetime: UInt32? {
        first { if case .lifetime(let value) = $0 { value } else { nil } }
    }

    /// DATA (RFC 8656 §18.4).
    public var data: [UInt8]? {
        first { if case .data(let value) = $0 { value } else { nil } }
    }

    /// REQUESTED-TRANSPORT (RFC 8656 §18.8): the IANA protocol number.
    public var requestedTransport: UInt8? {
        first { if case .requestedTransport(let value) = $0 { value } else { nil } }
    }

    /// REQUESTED-ADDRESS-FAMILY (RFC 8656 §18.6).
    public var requestedAddressFamily: TransportAddress.Family? {
        first { if case .requestedAddressFamily(let value) = $0 { value } else { nil } }
    }

    /// ADDITIONAL-ADDRESS-FAMILY (RFC 8656 §18.11).
    public var additionalAddressFamily: TransportAddress.Family? {
        first { if case .additionalAddressFamily(let value) = $0 { value } else { nil } }
    }

    /// Every ADDRESS-ERROR-CODE (RFC 8656 §18.12), in order.
    public var addressErrorCodes: [(family: TransportAddress.Family, error: STUNErrorCode)] {
        attributes.compactMap {
            if case .addressErrorCode(let family, let error) = $0 { (family, error) } else { nil }
        }
    }

    /// EVEN-PORT's R bit (RFC 8656 §18.7); nil when there is no EVEN-PORT.
    public var evenPort: Bool? {
        first { if case .evenPort(let reserveNext) = $0 { reserveNext } else { nil } }
    }

    /// Whether DONT-FRAGMENT is present (RFC 8656 §18.9).
    public var dontFragment: Bool {
        attributes.contains(.dontFragment)
    }

    /// RESERVATION-TOKEN (RFC 8656 §18.10).
    public var reservationToken: [UInt8]? {
        first { if case .reservationToken(let value) = $0 { value } else { nil } }
    }

    /// PRIORITY (RFC 8445 §7.1.1).
    public var priority: UInt32? {
        first { if case .priority(let value) = $0 { value } else { nil } }
    }

    /// Whether USE-CANDIDATE is present (RFC 8445 §7.1.2).
    public var useCandidate: Bool {
        attributes.contains(.useCandidate)
    }

    /// ICE-CONTROLLED's tie-breaker (RFC 8445 §7.1.3).
    public var iceControlled: UInt64? {
        first { if case .iceControlled(let value) = $0 { value } else { nil } }
    }

    /// ICE-CONTROLLING's tie-breaker (RFC 8445 §7.1.3).
    public var iceControlling: UInt64? {
        first { if case .iceControlling(let value) = $0 { value } else { nil } }
    }
}
