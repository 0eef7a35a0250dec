/// A header field name (RFC 3261 §7.3.1): case-insensitive, with the compact forms of §7.3.3 and later
/// RFCs resolved to the long form, so `v`, `VIA` and `Via` are equal. Known names serialize in their
/// canonical spelling; extension names as first received.
///
/// A known name is its number alone, with no reference to count: every header line holds a name, and
/// lines are copied wherever a message is (each copy used to retain three strings per line).
public struct SIPHeaderName: Hashable, Sendable, CustomStringConvertible {
    /// The known header's number, `.extension` for an extension header: equality and switching on it cost
    /// an integer comparison.
    let id: KnownHeader
    /// An extension header's spelling and key; nil for a known header.
    private let spelling: ExtensionSpelling?

    /// The spelling of an extension header, shared by the copies of its name.
    private final class ExtensionSpelling: Sendable {
        let name: String
        let key: String

        init(name: String, key: String) {
            self.name = name
            self.key = key
        }
    }

    /// The canonical spelling for a known header, the received spelling for an extension header.
    public var name: String { spelling?.name ?? id.canonicalName }
    /// The lowercased long form: what equality and hashing use.
    var key: String { spelling?.key ?? id.canonicalName.asciiLowercased }
    /// The one-letter compact form (§7.3.3), if the header has one.
    public var compactForm: String? { spelling == nil ? id.compactForm : nil }

    /// Whether this is one of the headers listed in `SIPHeaderName.known`.
    public var isKnown: Bool { id != .extension }

    init(id: KnownHeader) {
        self.id = id
        self.spelling = nil
    }

    /// The header called `name` (any case, long or compact form).
    public init(_ name: String) {
        let lowercased = name.asciiLowercased
        if let known = SIPHeaderName.byLowercasedName[lowercased] {
            self = known
        } else {
            self.id = .extension
            self.spelling = ExtensionSpelling(name: name, key: lowercased)
        }
    }

    public static func == (lhs: SIPHeaderName, rhs: SIPHeaderName) -> Bool {
        lhs.id == rhs.id && (lhs.id != .extension || lhs.key == rhs.key)
    }

    public func hash(into hasher: inout Hasher) {
        if id == .extension { hasher.combine(key) } else { hasher.combine(id) }
    }
    public var description: String { name }

    public static let accept = SIPHeaderName(id: .accept)
    /// RFC 3841 §9.2.
    public static let acceptContact = SIPHeaderName(id: .acceptContact)
    public static let acceptEncoding = SIPHeaderName(id: .acceptEncoding)
    public static let acceptLanguage = SIPHeaderName(id: .acceptLanguage)
    public static let alertInfo = SIPHeaderName(id: .alertInfo)
    public static let allow = SIPHeaderName(id: .allow)
    /// RFC 6665 §8.2.2.
    public static let allowEvents = SIPHeaderName(id: .allowEvents)
    public static let authenticationInfo = SIPHeaderName(id: .authenticationInfo)
    public static let authorization = SIPHeaderName(id: .authorization)
    public static let callID = SIPHeaderName(id: .callID)
    public static let callInfo = SIPHeaderName(id: .callInfo)
    public static let contact = SIPHeaderName(id: .contact)
    public static let contentDisposition = SIPHeaderName(id: .contentDisposition)
    public static let contentEncoding = SIPHeaderName(id: .contentEncoding)
    public static let contentLanguage = SIPHeaderName(id: .contentLanguage)
    public static let contentLength = SIPHeaderName(id: .contentLength)
    public static let contentType = SIPHeaderName(id: .contentType)
    public static let cseq = SIPHeaderName(id: .cseq)
    public static let date = SIPHeaderName(id: .date)
    public static let errorInfo = SIPHeaderName(id: .errorInfo)
    /// RFC 6665 §8.2.1.
    public static let event = SIPHeaderName(id: .event)
    public static let expires = SIPHeaderName(id: .expires)
    /// RFC 5626 §11.
    public static let flowTimer = SIPHeaderName(id: .flowTimer)
    public static let from = SIPHeaderName(id: .from)
    /// RFC 8224 §4 (compact form `y`).
    public static let identity = SIPHeaderName(id: .identity)
    /// RFC 4474 (obsolete; compact form `n`).
    public static let identityInfo = SIPHeaderName(id: .identityInfo)
    public static let inReplyTo = SIPHeaderName(id: .inReplyTo)
    public static let maxForwards = SIPHeaderName(id: .maxForwards)
    public static let mimeVersion = SIPHeaderName(id: .mimeVersion)
    public static let minExpires = SIPHeaderName(id: .minExpires)
    /// RFC 4028 §5.
    public static let minSE = SIPHeaderName(id: .minSE)
    public static let organization = SIPHeaderName(id: .organization)
    /// RFC 3325 §9.1.
    public static let pAssertedIdentity = SIPHeaderName(id: .pAssertedIdentity)
    /// RFC 3327 §4.
    public static let path = SIPHeaderName(id: .path)
    public static let priority = SIPHeaderName(id: .priority)
    /// RFC 3323 §4.2.
    public static let privacy = SIPHeaderName(id: .privacy)
    public static let proxyAuthenticate = SIPHeaderName(id: .proxyAuthenticate)
    public static let proxyAuthorization = SIPHeaderName(id: .proxyAuthorization)
    public static let proxyRequire = SIPHeaderName(id: .proxyRequire)
    /// RFC 3262 §7.2.
    public static let rack = SIPHeaderName(id: .rack)
    /// RFC 3326 §2.
    public static let reason = SIPHeaderName(id: .reason)
    public static let recordRoute = SIPHeaderName(id: .recordRoute)
    /// RFC 3515 §2.1.
    public static let referTo = SIPHeaderName(id: .referTo)
    /// RFC 3892 §3.
    public static let referredBy = SIPHeaderName(id: .referredBy)
    /// RFC 3841 §9.2.
    public static let rejectContact = SIPHeaderName(id: .rejectContact)
    public static let replyTo = SIPHeaderName(id: .replyTo)
    /// RFC 3841 §9.1.
    public static let requestDisposition = SIPHeaderName(id: .requestDisposition)
    public static let require = SIPHeaderName(id: .require)
    public static let retryAfter = SIPHeaderName(id: .retryAfter)
    public static let route = SIPHeaderName(id: .route)
    /// RFC 3262 §7.1.
    public static let rseq = SIPHeaderName(id: .rseq)
    public static let server = SIPHeaderName(id: .server)
    /// RFC 4028 §4.
    public static let sessionExpires = SIPHeaderName(id: .sessionExpires)
    public static let subject = SIPHeaderName(id: .subject)
    public static let supported = SIPHeaderName(id: .supported)
    public static let timestamp = SIPHeaderName(id: .timestamp)
    public static let to = SIPHeaderName(id: .to)
    public static let unsupported = SIPHeaderName(id: .unsupported)
    public static let userAgent = SIPHeaderName(id: .userAgent)
    public static let via = SIPHeaderName(id: .via)
    public static let warning = SIPHeaderName(id: .warning)
    public static let wwwAuthenticate = SIPHeaderName(id: .wwwAuthenticate)

    /// Every header this library knows by name.
    public static let known: [SIPHeaderName] = [
        .accept, .acceptContact, .acceptEncoding, .acceptLanguage, .alertInfo, .allow, .allowEvents,
        .authenticationInfo, .authorization, .callID, .callInfo, .contact, .contentDisposition, .contentEncoding,
        .contentLanguage, .contentLength, .contentType, .cseq, .date, .errorInfo, .event, .expires, .flowTimer,
        .from, .identity, .identityInfo, .inReplyTo, .maxForwards, .mimeVersion, .minExpires, .minSE,
        .organization, .pAssertedIdentity, .path, .priority, .privacy, .proxyAuthenticate, .proxyAuthorization,
        .proxyRequire, .rack, .reason, .recordRoute, .referTo, .referredBy, .rejectContact, .replyTo,
        .requestDisposition, .require, .retryAfter, .route, .rseq, .server, .sessionExpires, .subject,
        .supported, .timestamp, .to, .unsupported, .userAgent, .via, .warning, .wwwAuthenticate,
    ]

    static let byLowercasedName: [String: SIPHeaderName] = {
        var table: [String: SIPHeaderName] = [:]
        for name in known {
            table[name.key] = name
            if let compact = name.compactForm { table[compact] = name }
        }
        return table
    }()

    /// The lowercased long and compact forms of the known names, as bytes, by length: a parsed name is
    /// compared with the few of its length (no string made, nothing hashed) before it is taken for an
    /// extension. `first` is the key's first byte, checked before the key itself: a byte compare, where
    /// passing the key's array to `matches` costs a retain and a release.
    static let knownByLength: [[(first: UInt8, key: [UInt8], name: SIPHeaderName)]] = {
        var table = [[(first: UInt8, key: [UInt8], name: SIPHeaderName)]](repeating: [], count: 32)
        for (key, name) in byLowercasedName.sorted(by: { $0.key < $1.key }) where key.utf8.count < table.count {
            table[key.utf8.count].append((key.utf8.first ?? 0, Array(key.utf8), name))
        }
        return table
    }()

    /// The name in `bytes[range]` (already checked to be a token).
    static func lookUp(_ bytes: UnsafeBufferPointer<UInt8>, _ range: Range<Int>) -> SIPHeaderName {
        if range.count < knownByLength.count {
            let candidates = knownByLength[range.count]
            let first = range.isEmpty ? 0 : ByteClass.lowercased(bytes[range.lowerBound])
            for index in candidates.indices
            where candidates[index].first == first && matches(candidates[index].key, bytes, range) {
                return candidates[index].name
            }
        }
        let lowercased = String(unsafeUninitializedCapacity: range.count) { buffer in
            var position = 0
            for index in range {
                buffer[position] = ByteClass.lowercased(bytes[index])
                position += 1
            }
            return range.count
        }
        if let known = byLowercasedName[lowercased] { return known }
        let spelled = String(decoding: UnsafeBufferPointer(rebasing: bytes[range]), as: UTF8.self)
        return SIPHeaderName(extension: spelled, key: lowercased)
    }

    /// Whether `bytes[range]`, lowercased, is `key` (of the same length).
    private static func matches(_ key: [UInt8], _ bytes: UnsafeBufferPointer<UInt8>, _ range: Range<Int>) -> Bool {
        var offset = 0
        for index in range {
            guard ByteClass.lowercased(bytes[index]) == key[offset] else { return false }
            offset += 1
        }
        return true
    }

    private init(extension name: String, key: String) {
        self.id = .extension
        self.spelling = ExtensionSpelling(name: name, key: key)
    }
}

/// Numbers for the known headers; the ones `MessageParser` validates come first.
enum KnownHeader: UInt8, Hashable, Sendable {
    case `extension` = 0
    case via = 1
    case from = 2
    case to = 3
    case callID = 4
    case cseq = 5
    case maxForwards = 6
    case contentLength = 7
    case contentType = 8
    case contact = 9
    case route = 10
    case recordRoute = 11
    case accept = 12
    case acceptContact = 13
    case acceptEncoding = 14
    case acceptLanguage = 15
    case alertInfo = 16
    case allow = 17
    case allowEvents = 18
    case authenticationInfo = 19
    case authorization = 20
    case callInfo = 21
    case contentDisposition = 22
    case contentEncoding = 23
    case contentLanguage = 24
    case date = 25
    case errorInfo = 26
    case event = 27
    case expires = 28
    case flowTimer = 29
    case identity = 30
    case identityInfo = 31
    case inReplyTo = 32
    case mimeVersion = 33
    case minExpires = 34
    case minSE = 35
    case organization = 36
    case pAssertedIdentity = 37
    case path = 38
    case priority = 39
    case privacy = 40
    case proxyAuthenticate = 41
    case proxyAuthorization = 42
    case proxyRequire = 43
    case rack = 44
    case reason = 45
    case referTo = 46
    case referredBy = 47
    case rejectContact = 48
    case replyTo = 49
    case requestDisposition = 50
    case require = 51
    case retryAfter = 52
    case rseq = 53
    case server = 54
    case sessionExpires = 55
    case subject = 56
    case supported = 57
    case timestamp = 58
    case unsupported = 59
    case userAgent = 60
    case warning = 61
    case wwwAuthenticate = 62
}

extension KnownHeader {
    /// The canonical spelling (a literal: returning it retains nothing); empty for `.extension`.
    var canonicalName: String {
        switch self {
        case .extension: ""
        case .accept: "Accept"
        case .acceptContact: "Accept-Contact"
        case .acceptEncoding: "Accept-Encoding"
        case .acceptLanguage: "Accept-Language"
        case .alertInfo: "Alert-Info"
        case .allow: "Allow"
        case .allowEvents: "Allow-Events"
        case .authenticationInfo: "Authentication-Info"
        case .authorization: "Authorization"
        case .callID: "Call-ID"
        case .callInfo: "Call-Info"
        case .contact: "Contact"
        case .contentDisposition: "Content-Disposition"
        case .contentEncoding: "Content-Encoding"
        case .contentLanguage: "Content-Language"
        case .contentLength: "Content-Length"
        case .contentType: "Content-Type"
        case .cseq: "CSeq"
        case .date: "Date"
        case .errorInfo: "Error-Info"
        case .event: "Event"
        case .expires: "Expires"
        case .flowTimer: "Flow-Timer"
        case .from: "From"
        case .identity: "Identity"
        case .identityInfo: "Identity-Info"
        case .inReplyTo: "In-Reply-To"
        case .maxForwards: "Max-Forwards"
        case .mimeVersion: "MIME-Version"
        case .minExpires: "Min-Expires"
        case .minSE: "Min-SE"
        case .organization: "Organization"
        case .pAssertedIdentity: "P-Asserted-Identity"
        case .path: "Path"
        case .priority: "Priority"
        case .privacy: "Privacy"
        case .proxyAuthenticate: "Proxy-Authenticate"
        case .proxyAuthorization: "Proxy-Authorization"
        case .proxyRequire: "Proxy-Require"
        case .rack: "RAck"
        case .reason: "Reason"
        case .recordRoute: "Record-Route"
        case .referTo: "Refer-To"
        case .referredBy: "Referred-By"
        case .rejectContact: "Reject-Contact"
        case .replyTo: "Reply-To"
        case .requestDisposition: "Request-Disposition"
        case .require: "Require"
        case .retryAfter: "Retry-After"
        case .route: "Route"
        case .rseq: "RSeq"
        case .server: "Server"
        case .sessionExpires: "Session-Expires"
        case .subject: "Subject"
        case .supported: "Supported"
        case .timestamp: "Timestamp"
        case .to: "To"
        case .unsupported: "Unsupported"
        case .userAgent: "User-Agent"
        case .via: "Via"
        case .warning: "Warning"
        case .wwwAuthenticate: "WWW-Authenticate"
        }
    }

    /// The one-letter compact form (§7.3.3 and the RFCs cited at each name), if any.
    var compactForm: String? {
        switch self {
        case .acceptContact: "a"
        case .allowEvents: "u"
        case .callID: "i"
        case .contact: "m"
        case .contentEncoding: "e"
        case .contentLength: "l"
        case .contentType: "c"
        case .event: "o"
        case .from: "f"
        case .identity: "y"
        case .identityInfo: "n"
        case .referTo: "r"
        case .referredBy: "b"
        case .rejectContact: "j"
        case .requestDisposition: "d"
        case .sessionExpires: "x"
        case .subject: "s"
        case .supported: "k"
        case .to: "t"
        case .via: "v"
        default: nil
        }
    }
}
