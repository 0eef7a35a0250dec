/// The wire type codes of the attributes this codec knows (RFC 8489 §18.3, RFC 8656 §18,
/// RFC 8445 §16.1).
///
/// Codes below 0x8000 are comprehension-required: an agent that does not know one must reject the
/// message (a server answers 420 with UNKNOWN-ATTRIBUTES). Codes from 0x8000 are
/// comprehension-optional and may be ignored (RFC 8489 §14).
public enum STUNAttributeType {
    // MARK: Comprehension-required, 0x0000-0x7FFF

    /// MAPPED-ADDRESS (RFC 8489 §14.1).
    public static let mappedAddress: UInt16 = 0x0001
    /// USERNAME (RFC 8489 §14.3).
    public static let username: UInt16 = 0x0006
    /// MESSAGE-INTEGRITY (RFC 8489 §14.5).
    public static let messageIntegrity: UInt16 = 0x0008
    /// ERROR-CODE (RFC 8489 §14.8).
    public static let errorCode: UInt16 = 0x0009
    /// UNKNOWN-ATTRIBUTES (RFC 8489 §14.13).
    public static let unknownAttributes: UInt16 = 0x000A
    /// CHANNEL-NUMBER (RFC 8656 §18.1).
    public static let channelNumber: UInt16 = 0x000C
    /// LIFETIME (RFC 8656 §18.2).
    public static let lifetime: UInt16 = 0x000D
    /// XOR-PEER-ADDRESS (RFC 8656 §18.3).
    public static let xorPeerAddress: UInt16 = 0x0012
    /// DATA (RFC 8656 §18.4).
    public static let data: UInt16 = 0x0013
    /// REALM (RFC 8489 §14.9).
    public static let realm: UInt16 = 0x0014
    /// NONCE (RFC 8489 §14.10).
    public static let nonce: UInt16 = 0x0015
    /// XOR-RELAYED-ADDRESS (RFC 8656 §18.5).
    public static let xorRelayedAddress: UInt16 = 0x0016
    /// REQUESTED-ADDRESS-FAMILY (RFC 8656 §18.6).
    public static let requestedAddressFamily: UInt16 = 0x0017
    /// EVEN-PORT (RFC 8656 §18.7).
    public static let evenPort: UInt16 = 0x0018
    /// REQUESTED-TRANSPORT (RFC 8656 §18.8).
    public static let requestedTransport: UInt16 = 0x0019
    /// DONT-FRAGMENT (RFC 8656 §18.9).
    public static let dontFragment: UInt16 = 0x001A
    /// MESSAGE-INTEGRITY-SHA256 (RFC 8489 §14.6).
    public static let messageIntegritySHA256: UInt16 = 0x001C
    /// PASSWORD-ALGORITHM (RFC 8489 §14.12).
    public static let passwordAlgorithm: UInt16 = 0x001D
    /// USERHASH (RFC 8489 §14.4).
    public static let userhash: UInt16 = 0x001E
    /// XOR-MAPPED-ADDRESS (RFC 8489 §14.2).
    public static let xorMappedAddress: UInt16 = 0x0020
    /// RESERVATION-TOKEN (RFC 8656 §18.10).
    public static let reservationToken: UInt16 = 0x0022
    /// PRIORITY (RFC 8445 §7.1.1).
    public static let priority: UInt16 = 0x0024
    /// USE-CANDIDATE (RFC 8445 §7.1.2).
    public static let useCandidate: UInt16 = 0x0025

    // MARK: Comprehension-optional, 0x8000-0xFFFF

    /// ADDITIONAL-ADDRESS-FAMILY (RFC 8656 §18.11).
    public static let additionalAddressFamily: UInt16 = 0x8000
    /// ADDRESS-ERROR-CODE (RFC 8656 §18.12).
    public static let addressErrorCode: UInt16 = 0x8001
    /// ADDITIONAL-ADDRESS-FAMILY as the dual-allocation draft numbered it, before RFC 8656 took
    /// 0x8000, and as coturn and its `turnutils_uclient -Z` still send it: read as the same
    /// attribute, so coturn's clients get dual allocations too (never written; unregistered).
    public static let additionalAddressFamilyDraft: UInt16 = 0x8032
    /// PASSWORD-ALGORITHMS (RFC 8489 §14.11).
    public static let passwordAlgorithms: UInt16 = 0x8002
    /// SOFTWARE (RFC 8489 §14.14).
    public static let software: UInt16 = 0x8022
    /// ALTERNATE-SERVER (RFC 8489 §14.15).
    public static let alternateServer: UInt16 = 0x8023
    /// FINGERPRINT (RFC 8489 §14.7).
    public static let fingerprint: UInt16 = 0x8028
    /// ICE-CONTROLLED (RFC 8445 §7.1.3).
    public static let iceControlled: UInt16 = 0x8029
    /// ICE-CONTROLLING (RFC 8445 §7.1.3).
    public static let iceControlling: UInt16 = 0x802A

    /// True for types 0x0000-0x7FFF, which an agent must understand to process the message (RFC 8489 §14).
    public static func isComprehensionRequired(_ type: UInt16) -> Bool {
        type < 0x8000
    }

    /// The types that decode to a case of `STUNAttribute` other than `.unknown`.
    public static let known: Set<UInt16> = [
        mappedAddress, username, messageIntegrity, errorCode, unknownAttributes, channelNumber, lifetime,
        xorPeerAddress, data, realm, nonce, xorRelayedAddress, requestedAddressFamily, evenPort,
        requestedTransport, dontFragment, messageIntegritySHA256, passwordAlgorithm, userhash, xorMappedAddress,
        reservationToken, priority, useCandidate, additionalAddressFamily, additionalAddressFamilyDraft,
        addressErrorCode, passwordAlgorithms,
        software, alternateServer, fingerprint, iceControlled, iceControlling,
    ]
}
