/// A header field name (RFC 3261 §7.3.1): case-insensitive, with the compact forms of §7.3.3 and later
/// RFCs resolved to the long form, so `v`, `VIA` and `Via` are equal. Known names serialize in their
/// canonical spelling; extension names as first received.
public struct SIPHeaderName: Hashable, Sendable, CustomStringConvertible {
    /// The canonical spelling for a known header, the received spelling for an extension header.
    public let name: String
    /// The lowercased long form: what equality and hashing use.
    let key: String
    /// The one-letter compact form (§7.3.3), if the header has one.
    public let compactForm: String?
    /// The known header's number, `.extension` for an extension header: equality and switching on it cost
    /// an integer comparison.
    let id: KnownHeader

    /// Whether this is one of the headers listed in `SIPHeaderName.known`.
    public var isKnown: Bool { id != .extension }

    private init(known name: String, compact: String? = nil, id: KnownHeader) {
        self.name = name
        self.key = name.asciiLowercased
        self.compactForm = compact
        self.id = id
    }

    /// The header called `name` (any case, long or compact form).
    public init(_ name: String) {
        let lowercased = name.asciiLowercased
        if let known = SIPHeaderName.byLowercasedName[lowercased] {
            self = known
        } else {
            self.name = name
            self.key = lowercased
            self.compactForm = nil
            self.id = .extension
        }
    }

    public static func == (lhs: SIPHeaderName, rhs: SIPHeaderName) -> Bool {
        lhs.id == rhs.id && (lhs.id != .extension || lhs.key == rhs.key)
    }

    public func hash(into hasher: inout Hasher) {
        if id == .extension { hasher.combine(key) } else { hasher.combine(id) }
    }
    public var description: String { name }

    public static let accept = SIPHeaderName(known: "Accept", id: .accept)
    /// RFC 3841 §9.2.
    public static let acceptContact = SIPHeaderName(known: "Accept-Contact", compact: "a", id: .acceptContact)
    public static let acceptEncoding = SIPHeaderName(known: "Accept-Encoding", id: .acceptEncoding)
    public static let acceptLanguage = SIPHeaderName(known: "Accept-Language", id: .acceptLanguage)
    public static let alertInfo = SIPHeaderName(known: "Alert-Info", id: .alertInfo)
    public static let allow = SIPHeaderName(known: "Allow", id: .allow)
    /// RFC 6665 §8.2.2.
    public static let allowEvents = SIPHeaderName(known: "Allow-Events", compact: "u", id: .allowEvents)
    public static let authenticationInfo = SIPHeaderName(known: "Authentication-Info", id: .authenticationInfo)
    public static let authorization = SIPHeaderName(known: "Authorization", id: .authorization)
    public static let callID = SIPHeaderName(known: "Call-ID", compact: "i", id: .callID)
    public static let callInfo = SIPHeaderName(known: "Call-Info", id: .callInfo)
    public static let contact = SIPHeaderName(known: "Contact", compact: "m", id: .contact)
    public static let contentDisposition = SIPHeaderName(known: "Content-Disposition", id: .contentDisposition)
    public static let contentEncoding = SIPHeaderName(known: "Content-Encoding", compact: "e", id: .contentEncoding)
    public static let contentLanguage = SIPHeaderName(known: "Content-Language", id: .contentLanguage)
    public static let contentLength = SIPHeaderName(known: "Content-Length", compact: "l", id: .contentLength)
    public static let contentType = SIPHeaderName(known: "Content-Type", compact: "c", id: .contentType)
    public static let cseq = SIPHeaderName(known: "CSeq", id: .cseq)
    public static let date = SIPHeaderName(known: "Date", id: .date)
    public static let errorInfo = SIPHeaderName(known: "Error-Info", id: .errorInfo)
    /// RFC 6665 §8.2.1.
    public static let event = SIPHeaderName(known: "Event", compact: "o", id: .event)
    public static let expires = SIPHeaderName(known: "Expires", id: .expires)
    /// RFC 5626 §11.
    public static let flowTimer = SIPHeaderName(known: "Flow-Timer", id: .flowTimer)
    public static let from = SIPHeaderName(known: "From", compact: "f", id: .from)
    /// RFC 8224 §4 (compact form `y`).
    public static let identity = SIPHeaderName(known: "Identity", compact: "y", id: .identity)
    /// RFC 4474 (obsolete; compact form `n`).
    public static let identityInfo = SIPHeaderName(known: "Identity-Info", compact: "n", id: .identityInfo)
    public static let inReplyTo = SIPHeaderName(known: "In-Reply-To", id: .inReplyTo)
    public static let maxForwards = SIPHeaderName(known: "Max-Forwards", id: .maxForwards)
    public static let mimeVersion = SIPHeaderName(known: "MIME-Version", id: .mimeVersion)
    public static let minExpires = SIPHeaderName(known: "Min-Expires", id: .minExpires)
    /// RFC 4028 §5.
    public static let minSE = SIPHeaderName(known: "Min-SE", id: .minSE)
    public static let organization = SIPHeaderName(known: "Organization", id: .organization)
    /// RFC 3325 §9.1.
    public static let pAssertedIdentity = SIPHeaderName(known: "P-Asserted-Identity", id: .pAssertedIdentity)
    /// RFC 3327 §4.
    public static let path = SIPHeaderName(known: "Path", id: .path)
    public static let priority = SIPHeaderName(known: "Priority", id: .priority)
    /// RFC 3323 §4.2.
    public static let privacy = SIPHeaderName(known: "Privacy", id: .privacy)
    public static let proxyAuthenticate = SIPHeaderName(known: "Proxy-Authenticate", id: .proxyAuthenticate)
    public static let proxyAuthorization = SIPHeaderName(known: "Proxy-Authorization", id: .proxyAuthorization)
    public static let proxyRequire = SIPHeaderName(known: "Proxy-Require", id: .proxyRequire)
    /// RFC 3262 §7.2.
    public static let rack = SIPHeaderName(known: "RAck", id: .rack)
    /// RFC 3326 §2.
    public static let reason = SIPHeaderName(known: "Reason", id: .reason)
    public static let recordRoute = SIPHeaderName(known: "Record-Route", id: .recordRoute)
    /// RFC 3515 §2.1.
    public static let referTo = SIPHeaderName(known: "Refer-To", compact: "r", id: .referTo)
    /// RFC 3892 §3.
    public static let referredBy = SIPHeaderName(known: "Referred-By", compact: "b", id: .referredBy)
    /// RFC 3841 §9.2.
    public static let rejectContact = SIPHeaderName(known: "Reject-Contact", compact: "j", id: .rejectContact)
    public static let replyTo = SIPHeaderName(known: "Reply-To", id: .replyTo)
    /// RFC 3841 §9.1.
    public static let requestDisposition = SIPHeaderName(
        known: "Request-Disposition", compact: "d", id: .requestDisposition)
    public static let require = SIPHeaderName(known: "Require", id: .require)
    public static let retryAfter = SIPHeaderName(known: "Retry-After", id: .retryAfter)
    public static let route = SIPHeaderName(known: "Route", id: .route)
    /// RFC 3262 §7.1.
    public static let rseq = SIPHeaderName(known: "RSeq", id: .rseq)
    public static let server = SIPHeaderName(known: "Server", id: .server)
    /// RFC 4028 §4.
    public static let sessionExpires = SIPHeaderName(known: "Session-Expires", compact: "x", id: .sessionExpires)
    public static let subject = SIPHeaderName(known: "Subject", compact: "s", id: .subject)
    public static let supported = SIPHeaderName(known: "Supported", compact: "k", id: .supported)
    public static let timestamp = SIPHeaderName(known: "Timestamp", id: .timestamp)
    public static let to = SIPHeaderName(known: "To", compact: "t", id: .to)
    public static let unsupported = SIPHeaderName(known: "Unsupported", id: .unsupported)
    public static let userAgent = SIPHeaderName(known: "User-Agent", id: .userAgent)
    public static let via = SIPHeaderName(known: "Via", compact: "v", id: .via)
    public static let warning = SIPHeaderName(known: "Warning", id: .warning)
    public static let wwwAuthenticate = SIPHeaderName(known: "WWW-Authenticate", id: .wwwAuthenticate)

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
        self.name = name
        self.key = key
        self.compactForm = nil
        self.id = .extension
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
