/// Why `STUNCodec.decode` rejected a datagram (RFC 8489 §6, §14, §15).
public enum STUNDecodingError: Error, Hashable, Sendable, CustomStringConvertible {
    /// Fewer than the 20 bytes of a STUN header (RFC 8489 §5).
    case tooShort
    /// The first two bits are not zero or the magic cookie is not 0x2112A442: not a STUN message
    /// (RFC 8489 §5, §6.3).
    case notSTUN
    /// The header's length field is not a multiple of 4 or does not match the bytes given (RFC 8489 §5).
    case lengthMismatch
    /// An attribute runs past the end of the message, has the wrong length for its type, or holds a value
    /// its RFC does not allow (e.g. an address family other than IPv4 or IPv6, an error class outside 3-6,
    /// invalid UTF-8 in USERNAME, REALM or NONCE, text longer than 763 bytes).
    case malformedAttribute(type: UInt16)
    /// An attribute follows FINGERPRINT, which must be the last one (RFC 8489 §14.7).
    case attributeAfterFingerprint

    public var description: String {
        switch self {
        case .tooShort: "shorter than a STUN header"
        case .notSTUN: "not a STUN message"
        case .lengthMismatch: "length field does not match the message"
        case .malformedAttribute(let type): "malformed attribute 0x\(String(type, radix: 16))"
        case .attributeAfterFingerprint: "attribute after FINGERPRINT"
        }
    }
}
