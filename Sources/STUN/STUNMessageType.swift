/// The class of a STUN message: the two C bits of the message type (RFC 8489 §5).
public enum STUNClass: UInt8, Sendable, CaseIterable {
    case request = 0
    case indication = 1
    case successResponse = 2
    case errorResponse = 3
}

/// The 14-bit STUN message type: a method and a class interleaved as
/// `M11..M7 C1 M6..M4 C0 M3..M0` (RFC 8489 §5, Figure 3).
public struct STUNMessageType: Hashable, Sendable, CustomStringConvertible {
    public var method: STUNMethod
    public var messageClass: STUNClass

    public init(method: STUNMethod, messageClass: STUNClass) {
        self.method = method
        self.messageClass = messageClass
    }

    /// Splits a wire value into method and class; nil when either of the two most significant bits
    /// is set, since every STUN message starts with two zero bits (RFC 8489 §5).
    public init?(rawValue: UInt16) {
        guard rawValue & 0xC000 == 0 else { return nil }
        let method = (rawValue & 0x000F) | ((rawValue & 0x00E0) >> 1) | ((rawValue & 0x3E00) >> 2)
        let classBits = ((rawValue & 0x0010) >> 4) | ((rawValue & 0x0100) >> 7)
        guard let messageClass = STUNClass(rawValue: UInt8(truncatingIfNeeded: classBits)) else { return nil }
        self.method = STUNMethod(rawValue: method)
        self.messageClass = messageClass
    }

    /// The wire value (RFC 8489 §5); the two most significant bits are always zero.
    public var rawValue: UInt16 {
        let m = method.rawValue & 0x0FFF
        let c = UInt16(messageClass.rawValue)
        return (m & 0x000F) | ((m & 0x0070) << 1) | ((m & 0x0F80) << 2) | ((c & 0x1) << 4) | ((c & 0x2) << 7)
    }

    public var description: String {
        switch messageClass {
        case .request: "\(method) request"
        case .indication: "\(method) indication"
        case .successResponse: "\(method) success response"
        case .errorResponse: "\(method) error response"
        }
    }

    /// Binding request (RFC 8489 §3).
    public static let bindingRequest = STUNMessageType(method: .binding, messageClass: .request)
    /// Binding success response (RFC 8489 §3).
    public static let bindingSuccess = STUNMessageType(method: .binding, messageClass: .successResponse)
    /// Binding error response (RFC 8489 §3).
    public static let bindingError = STUNMessageType(method: .binding, messageClass: .errorResponse)
    /// Binding indication, used as a keep-alive (RFC 8489 §3).
    public static let bindingIndication = STUNMessageType(method: .binding, messageClass: .indication)
}
