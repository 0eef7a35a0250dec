/// A STUN method: the 12-bit number carried in the message type (RFC 8489 §5, §18.2).
///
/// Binding is STUN's own method (RFC 8489 §18.2); the others are TURN's (RFC 8656 §17).
/// Methods this codec does not name still decode: any 12-bit value is a valid `STUNMethod`.
public struct STUNMethod: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    /// The method number. Only the low 12 bits are meaningful; the encoder ignores the rest.
    public var rawValue: UInt16

    /// Keeps the low 12 bits of `rawValue` (RFC 8489 §5: methods are 12 bits).
    public init(rawValue: UInt16) {
        self.rawValue = rawValue & 0x0FFF
    }

    /// Binding (RFC 8489 §18.2).
    public static let binding = STUNMethod(rawValue: 0x001)
    /// Allocate (RFC 8656 §17): request only.
    public static let allocate = STUNMethod(rawValue: 0x003)
    /// Refresh (RFC 8656 §17): request only.
    public static let refresh = STUNMethod(rawValue: 0x004)
    /// Send (RFC 8656 §17): indication only.
    public static let send = STUNMethod(rawValue: 0x006)
    /// Data (RFC 8656 §17): indication only.
    public static let data = STUNMethod(rawValue: 0x007)
    /// CreatePermission (RFC 8656 §17): request only.
    public static let createPermission = STUNMethod(rawValue: 0x008)
    /// ChannelBind (RFC 8656 §17): request only.
    public static let channelBind = STUNMethod(rawValue: 0x009)

    public var description: String {
        switch rawValue & 0x0FFF {
        case 0x001: "Binding"
        case 0x003: "Allocate"
        case 0x004: "Refresh"
        case 0x006: "Send"
        case 0x007: "Data"
        case 0x008: "CreatePermission"
        case 0x009: "ChannelBind"
        default: "Method(0x\(String(rawValue, radix: 16)))"
        }
    }
}
