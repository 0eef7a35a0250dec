/// A name-addr or addr-spec with header parameters (RFC 3261 §25.1), the value of From, To, Contact,
/// Route, Record-Route, Path (RFC 3327 §4), Reply-To and similar headers:
/// `"Display Name" <sip:user@host;uri-param>;header-param=value`.
///
/// The display name is stored unquoted (quoted-pairs resolved); `description` always writes the
/// bracketed name-addr form, which is valid wherever an addr-spec is.
public struct NameAddress: Hashable, Sendable, CustomStringConvertible {
    /// The display name, unquoted; nil when absent.
    public var displayName: String?
    public var uri: AddressURI
    /// Header parameters after the address (`tag`, `expires`, `q`, ...), values as written.
    public var parameters: [GenericParameter]

    public init(displayName: String? = nil, uri: AddressURI, parameters: [GenericParameter] = []) {
        self.displayName = displayName
        self.uri = uri
        self.parameters = parameters
    }

    public init(displayName: String? = nil, uri: SIPURI, parameters: [GenericParameter] = []) {
        self.init(displayName: displayName, uri: .sip(uri), parameters: parameters)
    }

    /// Parses one name-addr or addr-spec with its parameters; errors name `header`.
    public init(parsing text: String, header: SIPHeaderName = .to) throws(SIPParseError) {
        self = try Self.parseWhole(text, header: header, build: true)
    }

    /// Checks `text` as `init(parsing:header:)` does and returns only its `tag` parameter: what message
    /// validation keeps of From and To (a dialog's identity, §12), without copying out the rest.
    static func validatedTag(_ text: String, header: SIPHeaderName) throws(SIPParseError) -> String? {
        try parseWhole(text, header: header, build: false).parameters.first?.value
    }

    private static func parseWhole(_ text: String, header: SIPHeaderName, build: Bool) throws(SIPParseError)
        -> NameAddress
    {
        let parsed: Result<NameAddress, SIPParseError> = text.withUTF8Bytes { buffer in
            var cursor = ByteCursor(buffer)
            do throws(SIPParseError) {
                let address = try NameAddress.parse(&cursor, header: header, build: build)
                cursor.skipWhitespace()
                guard cursor.isAtEnd else { throw SIPParseError(.malformedHeader, header: header) }
                return .success(address)
            } catch {
                return .failure(error)
            }
        }
        return try parsed.get()
    }

    /// The `tag` parameter (§19.3), which identifies a dialog's peer in From and To.
    public var tag: String? {
        get { parameters.first(named: "tag")?.value }
        set {
            if let newValue { parameters.set("tag", newValue) } else { parameters.remove(named: "tag") }
        }
    }

    /// The SIP URI, when the address holds one.
    public var sipURI: SIPURI? { uri.sipURI }

    public var description: String {
        var text = TextBuilder(capacity: 128)
        if let displayName, !displayName.isEmpty {
            text.append(quote(displayName))
            text.append(" ")
        }
        text.append("<")
        uri.append(to: &text)
        text.append(">")
        parameters.append(to: &text)
        return text.text
    }

    /// Parses one list element at the cursor, stopping before a top-level comma or the end. With `build`
    /// false the element is checked by the same steps, but its text is not copied out: the result holds
    /// only its `tag` parameter, if it has one.
    static func parse(
        _ cursor: inout ByteCursor, header: SIPHeaderName, build: Bool = true
    ) throws(SIPParseError) -> NameAddress {
        let malformed = SIPParseError(.malformedHeader, header: header)
        cursor.skipWhitespace()
        var displayName: String?
        let bytes = cursor.bytes
        if cursor.peek() == UInt8(ascii: "\"") {
            guard let quoted = cursor.readQuotedString() else { throw malformed }
            if build { displayName = unquote(cursor.string(quoted)) }
            cursor.skipWhitespace()
            guard cursor.peek() == UInt8(ascii: "<") else { throw malformed }
        } else {
            // A "<" before any ";" or "," means name-addr, with a display name of tokens and LWS.
            var scan = cursor.index
            while scan < cursor.end {
                let byte = bytes[scan]
                if byte == UInt8(ascii: "<") || byte == UInt8(ascii: ";") || byte == UInt8(ascii: ",") { break }
                scan += 1
            }
            if scan < cursor.end, bytes[scan] == UInt8(ascii: "<") {
                var nameEnd = scan
                while nameEnd > cursor.index, ByteClass.isWhitespace(bytes[nameEnd - 1]) { nameEnd -= 1 }
                for index in cursor.index..<nameEnd {
                    let byte = bytes[index]
                    guard ByteClass.test(byte, ByteClass.token) || ByteClass.isWhitespace(byte) else { throw malformed }
                }
                if build, nameEnd > cursor.index { displayName = cursor.string(cursor.index..<nameEnd) }
                cursor.index = scan
            } else {
                // addr-spec: the URI ends at the first ";", "," or whitespace; it may not hold "?" (§20: a
                // URI with a comma, question mark or semicolon must be in name-addr form, RFC 4475 `regbadct`).
                let uriRange = cursor.read {
                    $0 == UInt8(ascii: ";") || $0 == UInt8(ascii: ",") || ByteClass.isWhitespace($0)
                        || $0 == 0x0D || $0 == 0x0A
                }
                guard !uriRange.isEmpty, !bytes[uriRange].contains(UInt8(ascii: "?")),
                    let uri = AddressURI.parse(bytes, uriRange, build: build)
                else { throw malformed }
                let parameters = try GenericParameter.parseHeaderParameters(&cursor, header: header, build: build)
                return NameAddress(displayName: nil, uri: uri, parameters: parameters)
            }
        }
        // LAQUOT addr-spec RAQUOT: nothing, not even whitespace, between the brackets and the URI
        // (RFC 4475 `badaspec`).
        guard cursor.consume(UInt8(ascii: "<")) else { throw malformed }
        let uriRange = cursor.read { $0 == UInt8(ascii: ">") }
        guard cursor.consume(UInt8(ascii: ">")), let uri = AddressURI.parse(bytes, uriRange, build: build) else {
            throw malformed
        }
        let parameters = try GenericParameter.parseHeaderParameters(&cursor, header: header, build: build)
        return NameAddress(displayName: displayName, uri: uri, parameters: parameters)
    }

    /// Parses a comma-separated list of addresses (Route, Record-Route, Path, Contact; §7.3.1). With `build`
    /// false the list is checked by the same steps (see `parse`) and an empty array is returned: what
    /// message validation uses, which throws the values away.
    static func parseList(
        _ value: String, header: SIPHeaderName, build: Bool = true
    ) throws(SIPParseError) -> [NameAddress] {
        let parsed: Result<[NameAddress], SIPParseError> = value.withUTF8Bytes { buffer in
            var cursor = ByteCursor(buffer)
            var addresses: [NameAddress] = []
            do throws(SIPParseError) {
                repeat {
                    let address = try NameAddress.parse(&cursor, header: header, build: build)
                    if build { addresses.append(address) }
                    cursor.skipWhitespace()
                } while cursor.consume(UInt8(ascii: ","))
                guard cursor.isAtEnd else { throw SIPParseError(.malformedHeader, header: header) }
                return .success(addresses)
            } catch {
                return .failure(error)
            }
        }
        return try parsed.get()
    }
}

/// The value of Contact (RFC 3261 §20.10): either `*` (only in a REGISTER removing all bindings, §10.2.2)
/// or a list of addresses with parameters such as `expires`, `q` and RFC 5626's `reg-id` and `+sip.instance`.
public enum ContactField: Hashable, Sendable {
    case wildcard
    case addresses([NameAddress])
}
