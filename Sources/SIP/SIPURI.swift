/// A SIP or SIPS URI (RFC 3261 §19.1, grammar §25.1):
/// `sip:user:password@host:port;uri-parameters?headers`.
///
/// User, password, parameters and headers are kept as written, escapes included (§19.1.2, §25.1
/// `escaped`), so a proxy forwards exactly what it received; `unescapedUser` and `URIEscaping` give and
/// take the plain text. `==` is structural; `isEquivalent(to:)` is the comparison of §19.1.4.
public struct SIPURI: Hashable, Sendable, CustomStringConvertible {
    /// `sips:` (§19.1, resource reached over TLS hop by hop) rather than `sip:`.
    public var isSecure: Bool
    /// The user part, escaped as written; nil when the URI has no userinfo.
    public var user: String?
    /// The password, escaped as written (its use is NOT RECOMMENDED, §19.1.1).
    public var password: String?
    public var host: SIPHost
    public var port: UInt16?
    /// uri-parameters in order (`transport`, `user`, `method`, `ttl`, `maddr`, `lr`, RFC 5626 `ob`, others).
    public var parameters: [GenericParameter]
    /// URI headers (`?name=value&...`, §19.1.1), escaped as written.
    public var headers: [GenericParameter]

    public init(
        isSecure: Bool = false, user: String? = nil, password: String? = nil, host: SIPHost, port: UInt16? = nil,
        parameters: [GenericParameter] = [], headers: [GenericParameter] = []
    ) {
        self.isSecure = isSecure
        self.user = user
        self.password = password
        self.host = host
        self.port = port
        self.parameters = parameters
        self.headers = headers
    }

    /// Parses a complete SIP or SIPS URI; any other scheme or syntax error throws `.invalidURI`.
    public init(parsing text: String) throws(SIPParseError) {
        let result: SIPURI? = text.withUTF8Bytes { buffer in
            SIPURI.parse(buffer, 0..<buffer.count)
        }
        guard let result else { throw SIPParseError(.invalidURI) }
        self = result
    }

    public var scheme: String { isSecure ? "sips" : "sip" }

    /// The user part with escapes resolved (§19.1.2); the comparison of §19.1.4 uses this form.
    public var unescapedUser: String? { user.map(URIEscaping.unescaped) }

    /// The `transport` parameter's value (§19.1.1), lowercased.
    public var transport: String? { parameters.first(named: "transport")?.value?.asciiLowercased }
    /// The `maddr` parameter's value (§19.1.1).
    public var maddr: String? { parameters.first(named: "maddr")?.value }
    /// Whether the `lr` parameter is present: the element is a loose router (§19.1.1, §16.4).
    public var isLooseRouting: Bool { parameters.contains(named: "lr") }
    /// Whether the `ob` parameter of RFC 5626 §5.1 is present (outbound proxy flow token keep-alive).
    public var hasOutboundParameter: Bool { parameters.contains(named: "ob") }

    public var description: String {
        var text = TextBuilder(capacity: 96)
        append(to: &text)
        return text.text
    }

    func append(to text: inout TextBuilder) {
        text.append(isSecure ? "sips:" : "sip:")
        if let user {
            text.append(user)
            if let password {
                text.append(":")
                text.append(password)
            }
            text.append("@")
        }
        host.append(to: &text, port: port)
        parameters.append(to: &text)
        for (index, header) in headers.enumerated() {
            text.append(index == 0 ? "?" : "&")
            text.append(header.name)
            text.append("=")
            text.append(header.value ?? "")
        }
    }

    /// Parses `bytes[range]` as exactly one SIP/SIPS URI (§25.1 `SIP-URI`, `SIPS-URI`). With `build` false
    /// the syntax is checked the same way but the result holds no text (empty host, no user or parameters).
    static func parse(_ bytes: UnsafeBufferPointer<UInt8>, _ range: Range<Int>, build: Bool = true) -> SIPURI? {
        var cursor = ByteCursor(bytes, range: range)
        let schemeRange = cursor.read(ByteClass.scheme)
        guard cursor.consume(UInt8(ascii: ":")) else { return nil }
        let isSecure: Bool
        if cursor.matches(schemeRange, ignoringCase: "sip") {
            isSecure = false
        } else if cursor.matches(schemeRange, ignoringCase: "sips") {
            isSecure = true
        } else {
            return nil
        }
        var user: String?
        var password: String?
        // userinfo ends at the first "@": no other part of a SIP URI may hold a raw "@" (§25.1).
        var at = cursor.index
        while at < cursor.end, bytes[at] != UInt8(ascii: "@") { at += 1 }
        if at < cursor.end {
            var colon = cursor.index
            while colon < at, bytes[colon] != UInt8(ascii: ":") { colon += 1 }
            let userRange = cursor.index..<colon
            guard !userRange.isEmpty,
                validEscaped(bytes, userRange, ByteClass.unreserved | ByteClass.userExtra)
            else { return nil }
            if build { user = cursor.string(userRange) }
            if colon < at {
                let passwordRange = (colon + 1)..<at
                guard validEscaped(bytes, passwordRange, ByteClass.unreserved | ByteClass.passwordExtra) else {
                    return nil
                }
                if build { password = cursor.string(passwordRange) }
            }
            cursor.index = at + 1
        }
        guard let host = SIPHost.parse(&cursor, build: build) else { return nil }
        var port: UInt16?
        if cursor.consume(UInt8(ascii: ":")) {
            let digits = cursor.read(ByteClass.digit)
            guard let value = cursor.decimal(digits, limit: 65535) else { return nil }
            port = UInt16(value)
        }
        var parameters: [GenericParameter] = []
        let paramMask = ByteClass.unreserved | ByteClass.paramExtra
        while cursor.consume(UInt8(ascii: ";")) {
            let name = cursor.read { $0 == UInt8(ascii: ";") || $0 == UInt8(ascii: "?") || $0 == UInt8(ascii: "=") }
            guard !name.isEmpty, validEscaped(bytes, name, paramMask) else { return nil }
            var value: String?
            if cursor.consume(UInt8(ascii: "=")) {
                let valueRange = cursor.read { $0 == UInt8(ascii: ";") || $0 == UInt8(ascii: "?") }
                guard !valueRange.isEmpty, validEscaped(bytes, valueRange, paramMask) else { return nil }
                if build { value = cursor.string(valueRange) }
            }
            if build { parameters.append(GenericParameter(cursor.string(name), value)) }
        }
        var headers: [GenericParameter] = []
        if cursor.consume(UInt8(ascii: "?")) {
            let headerMask = ByteClass.unreserved | ByteClass.headerExtra
            repeat {
                let name = cursor.read { $0 == UInt8(ascii: "=") || $0 == UInt8(ascii: "&") }
                guard !name.isEmpty, validEscaped(bytes, name, headerMask), cursor.consume(UInt8(ascii: "=")) else {
                    return nil
                }
                let value = cursor.read { $0 == UInt8(ascii: "&") }
                guard validEscaped(bytes, value, headerMask) else { return nil }
                if build { headers.append(GenericParameter(cursor.string(name), cursor.string(value))) }
            } while cursor.consume(UInt8(ascii: "&"))
        }
        guard cursor.isAtEnd else { return nil }
        return SIPURI(
            isSecure: isSecure, user: user, password: password, host: host, port: port, parameters: parameters,
            headers: headers)
    }

    /// Whether every byte of `range` is in `mask` or part of a well-formed `%HH` escape (§25.1 `escaped`).
    static func validEscaped(_ bytes: UnsafeBufferPointer<UInt8>, _ range: Range<Int>, _ mask: ByteSet) -> Bool {
        var index = range.lowerBound
        while index < range.upperBound {
            let byte = bytes[index]
            if byte == UInt8(ascii: "%") {
                guard index + 3 <= range.upperBound, ByteClass.hexValue(bytes[index + 1]) != nil,
                    ByteClass.hexValue(bytes[index + 2]) != nil
                else { return false }
                index += 3
            } else {
                guard ByteClass.test(byte, mask) else { return false }
                index += 1
            }
        }
        return true
    }
}
