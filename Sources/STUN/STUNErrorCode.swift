/// The value of an ERROR-CODE attribute: a number from 300 to 699 and a reason phrase
/// (RFC 8489 §14.8). ADDRESS-ERROR-CODE carries the same pair per address family (RFC 8656 §18.12).
///
/// On the wire the number is split into a class (the hundreds digit, 3 to 6) and a number
/// (0 to 99); the reason phrase is UTF-8, fewer than 128 characters.
public struct STUNErrorCode: Hashable, Sendable, CustomStringConvertible {
    /// The error code, e.g. 401. The encoder clamps it to 0...799 before splitting it into class and number.
    public var code: Int
    /// The reason phrase. The encoder cuts it to 127 characters (RFC 8489 §14.8).
    public var reason: String

    public init(code: Int, reason: String) {
        self.code = code
        self.reason = reason
    }

    /// `code` with the reason phrase the RFCs give for it, or an empty one for a code they don't name.
    public init(code: Int) {
        self.init(code: code, reason: Self.standardReason(for: code) ?? "")
    }

    public var description: String { "\(code) \(reason)" }

    /// The class (hundreds digit) of `code`: 3 for redirections, 4 for client errors, 5 for server errors.
    public var errorClass: Int { code / 100 }

    /// 300 Try Alternate (RFC 8489 §14.8).
    public static let tryAlternate = STUNErrorCode(code: 300, reason: "Try Alternate")
    /// 400 Bad Request (RFC 8489 §14.8).
    public static let badRequest = STUNErrorCode(code: 400, reason: "Bad Request")
    /// 401 Unauthenticated (RFC 8489 §14.8; RFC 5389 called it "Unauthorized").
    public static let unauthorized = STUNErrorCode(code: 401, reason: "Unauthenticated")
    /// 403 Forbidden (RFC 8656 §19).
    public static let forbidden = STUNErrorCode(code: 403, reason: "Forbidden")
    /// 420 Unknown Attribute (RFC 8489 §14.8); the response carries UNKNOWN-ATTRIBUTES.
    public static let unknownAttribute = STUNErrorCode(code: 420, reason: "Unknown Attribute")
    /// 437 Allocation Mismatch (RFC 8656 §19).
    public static let allocationMismatch = STUNErrorCode(code: 437, reason: "Allocation Mismatch")
    /// 438 Stale Nonce (RFC 8489 §14.8).
    public static let staleNonce = STUNErrorCode(code: 438, reason: "Stale Nonce")
    /// 440 Address Family not Supported (RFC 8656 §19).
    public static let addressFamilyNotSupported = STUNErrorCode(code: 440, reason: "Address Family not Supported")
    /// 441 Wrong Credentials (RFC 8656 §19).
    public static let wrongCredentials = STUNErrorCode(code: 441, reason: "Wrong Credentials")
    /// 442 Unsupported Transport Protocol (RFC 8656 §19).
    public static let unsupportedTransportProtocol = STUNErrorCode(
        code: 442, reason: "Unsupported Transport Protocol")
    /// 443 Peer Address Family Mismatch (RFC 8656 §19).
    public static let peerAddressFamilyMismatch = STUNErrorCode(code: 443, reason: "Peer Address Family Mismatch")
    /// 486 Allocation Quota Reached (RFC 8656 §19).
    public static let allocationQuotaReached = STUNErrorCode(code: 486, reason: "Allocation Quota Reached")
    /// 487 Role Conflict (RFC 8445 §7.3.1.1, ICE).
    public static let roleConflict = STUNErrorCode(code: 487, reason: "Role Conflict")
    /// 500 Server Error (RFC 8489 §14.8).
    public static let serverError = STUNErrorCode(code: 500, reason: "Server Error")
    /// 508 Insufficient Capacity (RFC 8656 §19).
    public static let insufficientCapacity = STUNErrorCode(code: 508, reason: "Insufficient Capacity")

    /// Every code named above.
    public static let allStandard: [STUNErrorCode] = [
        .tryAlternate, .badRequest, .unauthorized, .forbidden, .unknownAttribute, .allocationMismatch,
        .staleNonce, .addressFamilyNotSupported, .wrongCredentials, .unsupportedTransportProtocol,
        .peerAddressFamilyMismatch, .allocationQuotaReached, .roleConflict, .serverError, .insufficientCapacity,
    ]

    /// The RFC's reason phrase for `code`, nil for a code this codec does not name.
    public static func standardReason(for code: Int) -> String? {
        allStandard.first { $0.code == code }?.reason
    }
}
