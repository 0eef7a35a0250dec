/// A request method (RFC 3261 §7.1, §25.1 `Method`): the six of RFC 3261 and the common extensions, or any
/// other token. Methods are case-sensitive (§7.1), so `IN%56ITE` or `invite` are extension methods.
public enum SIPMethod: Hashable, Sendable, CustomStringConvertible {
    case invite, ack, options, bye, cancel, register
    /// RFC 3262 PRACK, RFC 6665 SUBSCRIBE/NOTIFY, RFC 3903 PUBLISH, RFC 3311 UPDATE, RFC 3515 REFER,
    /// RFC 3428 MESSAGE, RFC 6086 INFO.
    case prack, subscribe, notify, publish, update, refer, message, info
    /// Any other method token.
    case `extension`(String)

    /// The method named by `token` exactly (case-sensitive, §7.1).
    public init(_ token: String) {
        switch token {
        case "INVITE": self = .invite
        case "ACK": self = .ack
        case "OPTIONS": self = .options
        case "BYE": self = .bye
        case "CANCEL": self = .cancel
        case "REGISTER": self = .register
        case "PRACK": self = .prack
        case "SUBSCRIBE": self = .subscribe
        case "NOTIFY": self = .notify
        case "PUBLISH": self = .publish
        case "UPDATE": self = .update
        case "REFER": self = .refer
        case "MESSAGE": self = .message
        case "INFO": self = .info
        default: self = .extension(token)
        }
    }

    /// The method as it appears on the wire.
    public var name: String {
        switch self {
        case .invite: "INVITE"
        case .ack: "ACK"
        case .options: "OPTIONS"
        case .bye: "BYE"
        case .cancel: "CANCEL"
        case .register: "REGISTER"
        case .prack: "PRACK"
        case .subscribe: "SUBSCRIBE"
        case .notify: "NOTIFY"
        case .publish: "PUBLISH"
        case .update: "UPDATE"
        case .refer: "REFER"
        case .message: "MESSAGE"
        case .info: "INFO"
        case .extension(let token): token
        }
    }

    public var description: String { name }

    public static func == (lhs: SIPMethod, rhs: SIPMethod) -> Bool { lhs.name == rhs.name }
    public func hash(into hasher: inout Hasher) { hasher.combine(name) }
}
