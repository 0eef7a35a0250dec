/// A response status code (RFC 3261 §7.2, §21): three digits, 100 to 699.
public struct SIPStatusCode: RawRepresentable, Hashable, Comparable, Sendable, CustomStringConvertible {
    public let rawValue: UInt16

    /// Nil unless `rawValue` is within 100...699 (§25.1 `Status-Code` is 3DIGIT, classes 1xx to 6xx).
    public init?(rawValue: UInt16) {
        guard (100...699).contains(rawValue) else { return nil }
        self.rawValue = rawValue
    }

    init(_ value: UInt16) {
        self.rawValue = value
    }

    public static func < (lhs: SIPStatusCode, rhs: SIPStatusCode) -> Bool { lhs.rawValue < rhs.rawValue }

    /// 1xx (§21.1).
    public var isProvisional: Bool { rawValue < 200 }
    /// 2xx (§21.2).
    public var isSuccess: Bool { (200..<300).contains(rawValue) }
    /// 200 to 699: ends a transaction (§17).
    public var isFinal: Bool { rawValue >= 200 }

    public var description: String { String(rawValue) }

    public static let trying = SIPStatusCode(100)
    public static let ringing = SIPStatusCode(180)
    public static let sessionProgress = SIPStatusCode(183)
    public static let ok = SIPStatusCode(200)
    public static let badRequest = SIPStatusCode(400)
    public static let forbidden = SIPStatusCode(403)
    public static let notFound = SIPStatusCode(404)
    public static let requestTimeout = SIPStatusCode(408)
    public static let unsupportedURIScheme = SIPStatusCode(416)
    public static let badExtension = SIPStatusCode(420)
    public static let temporarilyUnavailable = SIPStatusCode(480)
    public static let callOrTransactionDoesNotExist = SIPStatusCode(481)
    public static let loopDetected = SIPStatusCode(482)
    public static let tooManyHops = SIPStatusCode(483)
    public static let requestTerminated = SIPStatusCode(487)
    public static let serverInternalError = SIPStatusCode(500)
    public static let serviceUnavailable = SIPStatusCode(503)
    public static let versionNotSupported = SIPStatusCode(505)
    public static let messageTooLarge = SIPStatusCode(513)

    /// The reason phrase RFC 3261 §21 suggests, or a class default.
    public var defaultReasonPhrase: String {
        switch rawValue {
        case 100: "Trying"
        case 180: "Ringing"
        case 181: "Call Is Being Forwarded"
        case 182: "Queued"
        case 183: "Session Progress"
        case 200: "OK"
        case 202: "Accepted"
        case 300: "Multiple Choices"
        case 301: "Moved Permanently"
        case 302: "Moved Temporarily"
        case 305: "Use Proxy"
        case 400: "Bad Request"
        case 401: "Unauthorized"
        case 403: "Forbidden"
        case 404: "Not Found"
        case 405: "Method Not Allowed"
        case 407: "Proxy Authentication Required"
        case 408: "Request Timeout"
        case 413: "Request Entity Too Large"
        case 414: "Request-URI Too Long"
        case 415: "Unsupported Media Type"
        case 416: "Unsupported URI Scheme"
        case 420: "Bad Extension"
        case 421: "Extension Required"
        case 423: "Interval Too Brief"
        case 429: "Too Many Requests"
        case 430: "Flow Failed"
        case 480: "Temporarily Unavailable"
        case 481: "Call/Transaction Does Not Exist"
        case 482: "Loop Detected"
        case 483: "Too Many Hops"
        case 484: "Address Incomplete"
        case 486: "Busy Here"
        case 487: "Request Terminated"
        case 488: "Not Acceptable Here"
        case 491: "Request Pending"
        case 500: "Server Internal Error"
        case 501: "Not Implemented"
        case 502: "Bad Gateway"
        case 503: "Service Unavailable"
        case 504: "Server Time-out"
        case 505: "Version Not Supported"
        case 513: "Message Too Large"
        case 600: "Busy Everywhere"
        case 603: "Decline"
        case 604: "Does Not Exist Anywhere"
        case 606: "Not Acceptable"
        default:
            switch rawValue / 100 {
            case 1: "Provisional"
            case 2: "Success"
            case 3: "Redirection"
            case 4: "Client Error"
            case 5: "Server Error"
            default: "Global Failure"
            }
        }
    }
}
