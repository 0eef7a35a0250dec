/// A `;name=value` parameter (RFC 3261 §25.1 `generic-param` in header fields, `other-param` in URIs).
/// The value is kept as written — a token, a host, or a quoted-string with its quotes — so a proxy
/// forwards it unchanged; `unquotedValue` gives the text of a quoted-string.
public struct GenericParameter: Hashable, Sendable, CustomStringConvertible {
    public var name: String
    /// Nil for a parameter without `=` (e.g. `lr`).
    public var value: String?

    public init(_ name: String, _ value: String? = nil) {
        self.name = name
        self.value = value
    }

    /// The value with quotes removed and quoted-pairs resolved (§25.1 `quoted-string`).
    public var unquotedValue: String? { value.map(unquote) }

    public var description: String { value.map { "\(name)=\($0)" } ?? name }
}

extension Array where Element == GenericParameter {
    /// The first parameter called `name` (names are case-insensitive, §7.3.1, §19.1.4).
    public func first(named name: String) -> GenericParameter? {
        first { $0.name.equalsIgnoringASCIICase(name) }
    }

    /// Whether a parameter called `name` is present, with or without a value.
    public func contains(named name: String) -> Bool {
        contains { $0.name.equalsIgnoringASCIICase(name) }
    }

    /// Sets (replacing the first one) or appends `name`.
    public mutating func set(_ name: String, _ value: String?) {
        if let index = firstIndex(where: { $0.name.equalsIgnoringASCIICase(name) }) {
            self[index].value = value
        } else {
            append(GenericParameter(name, value))
        }
    }

    /// Removes every parameter called `name`.
    public mutating func remove(named name: String) {
        removeAll { $0.name.equalsIgnoringASCIICase(name) }
    }

    /// `;a=1;b` as serialized after a header value or URI.
    var serialized: String {
        guard !isEmpty else { return "" }
        var text = TextBuilder(capacity: 64)
        append(to: &text)
        return text.text
    }

    /// Appends `serialized` to `text`.
    func append(to text: inout TextBuilder) {
        for parameter in self {
            text.append(";")
            text.append(parameter.name)
            if let value = parameter.value {
                text.append("=")
                text.append(value)
            }
        }
    }
}

extension GenericParameter {
    /// Parses `*( SEMI generic-param )` (§25.1) at the cursor, allowing LWS around `;` and `=`
    /// (RFC 4475 `wsinv`). Stops before anything that is not `;` (a comma or the end). With `build` false
    /// the parameters are checked the same way but only the first `tag` is returned: a dialog's identity
    /// (§12) is all that validating From and To keeps, and the other names and values are not copied out.
    static func parseHeaderParameters(
        _ cursor: inout ByteCursor, header: SIPHeaderName, build: Bool = true
    ) throws(SIPParseError) -> [GenericParameter] {
        var parameters: [GenericParameter] = []
        while true {
            cursor.skipWhitespace()
            guard cursor.consume(UInt8(ascii: ";")) else { return parameters }
            // Room for the usual few (Via: branch, rport, received) in one allocation.
            if build, parameters.isEmpty { parameters.reserveCapacity(4) }
            cursor.skipWhitespace()
            let nameRange = cursor.readToken()
            guard !nameRange.isEmpty else { throw SIPParseError(.malformedHeader, header: header) }
            let name = build ? cursor.string(nameRange) : ""
            let mark = cursor.index
            cursor.skipWhitespace()
            guard cursor.consume(UInt8(ascii: "=")) else {
                cursor.index = mark
                if build {
                    parameters.append(GenericParameter(name))
                } else if parameters.isEmpty, cursor.matches(nameRange, ignoringCase: "tag") {
                    parameters.append(GenericParameter("tag"))
                }
                continue
            }
            cursor.skipWhitespace()
            let valueRange: Range<Int>
            if cursor.peek() == UInt8(ascii: "\"") {
                guard let quoted = cursor.readQuotedString() else {
                    throw SIPParseError(.malformedHeader, header: header)
                }
                valueRange = quoted
            } else if cursor.peek() == UInt8(ascii: "[") {
                let start = cursor.index
                // Only the kind of host matters here: the value is the text of the range.
                guard case .ipv6 = SIPHost.parse(&cursor, build: false) else {
                    throw SIPParseError(.malformedHeader, header: header)
                }
                valueRange = start..<cursor.index
            } else {
                // gen-value = token / host; host characters are all token characters.
                valueRange = cursor.readToken()
                guard !valueRange.isEmpty else { throw SIPParseError(.malformedHeader, header: header) }
            }
            if build {
                parameters.append(GenericParameter(name, cursor.string(valueRange)))
            } else if parameters.isEmpty, cursor.matches(nameRange, ignoringCase: "tag") {
                parameters.append(GenericParameter("tag", cursor.string(valueRange)))
            }
        }
    }
}
