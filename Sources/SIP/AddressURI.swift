/// Any URI a SIP message carries in its Request-URI or in a name-addr (RFC 3261 §25.1 `Request-URI`,
/// `addr-spec`): a SIP/SIPS URI, parsed, or any other absoluteURI (`tel:`, `urn:`, unknown schemes,
/// RFC 4475 `unkscm`, `novelsc`), kept verbatim. A proxy answers 416 for schemes it cannot route (§8.2.2.1).
public enum AddressURI: Hashable, Sendable, CustomStringConvertible {
    case sip(SIPURI)
    /// An absoluteURI of another scheme (RFC 2396 §3), as written.
    case absolute(String)

    /// Parses a SIP/SIPS URI or an absoluteURI of any scheme.
    public init(parsing text: String) throws(SIPParseError) {
        let result: AddressURI? = text.withUTF8Bytes { buffer in
            AddressURI.parse(buffer, 0..<buffer.count)
        }
        guard let result else { throw SIPParseError(.invalidURI) }
        self = result
    }

    /// The SIP or SIPS URI, when it is one.
    public var sipURI: SIPURI? {
        if case .sip(let uri) = self { return uri }
        return nil
    }

    /// The scheme, lowercased.
    public var scheme: String {
        switch self {
        case .sip(let uri): return uri.scheme
        case .absolute(let text):
            return String(text.prefix { $0 != ":" }).asciiLowercased
        }
    }

    public var description: String {
        switch self {
        case .sip(let uri): uri.description
        case .absolute(let text): text
        }
    }

    /// Appends `description` to `text`.
    func append(to text: inout TextBuilder) {
        switch self {
        case .sip(let uri): uri.append(to: &text)
        case .absolute(let absolute): text.append(absolute)
        }
    }

    /// §19.1.4 for SIP URIs; for other schemes, case-insensitive scheme and exact remainder (the rules of
    /// each scheme's own RFC are not applied).
    public func isEquivalent(to other: AddressURI) -> Bool {
        switch (self, other) {
        case (.sip(let lhs), .sip(let rhs)): return lhs.isEquivalent(to: rhs)
        case (.absolute(let lhs), .absolute(let rhs)):
            return scheme == other.scheme && lhs.drop { $0 != ":" } == rhs.drop { $0 != ":" }
        default: return false
        }
    }

    /// Parses `bytes[range]` as one URI: SIP/SIPS when the scheme says so, otherwise an absoluteURI
    /// (scheme ":" 1*uric, RFC 2396 §3). With `build` false the syntax is checked the same way but the
    /// result holds no text.
    static func parse(_ bytes: UnsafeBufferPointer<UInt8>, _ range: Range<Int>, build: Bool = true) -> AddressURI? {
        var cursor = ByteCursor(bytes, range: range)
        guard let first = cursor.peek(), ByteClass.test(first, ByteClass.scheme),
            !ByteClass.test(first, ByteClass.digit), first != UInt8(ascii: "+"), first != UInt8(ascii: "-"),
            first != UInt8(ascii: ".")
        else { return nil }
        let schemeRange = cursor.read(ByteClass.scheme)
        guard cursor.consume(UInt8(ascii: ":")) else { return nil }
        if cursor.matches(schemeRange, ignoringCase: "sip") || cursor.matches(schemeRange, ignoringCase: "sips") {
            return SIPURI.parse(bytes, range, build: build).map(AddressURI.sip)
        }
        let rest = cursor.read(ByteClass.uric | ByteClass.unreserved)
        guard !rest.isEmpty, cursor.isAtEnd,
            SIPURI.validEscaped(bytes, rest, ByteClass.uric | ByteClass.unreserved)
        else { return nil }
        return .absolute(build ? cursor.string(range) : "")
    }
}
