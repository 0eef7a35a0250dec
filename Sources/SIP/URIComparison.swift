extension SIPURI {
    /// URI comparison of RFC 3261 §19.1.4:
    /// - same scheme (a SIP URI never matches a SIPS URI);
    /// - user and password compared after unescaping, case-sensitively; a URI with a user never matches
    ///   one without;
    /// - hosts compared case-insensitively (addresses by value); ports must both be absent or equal (an
    ///   explicit 5060 does not match an absent port);
    /// - a uri-parameter present in both must match (case-insensitive name and value, after unescaping);
    ///   `user`, `ttl`, `method`, `maddr` and `transport` present in only one never match; any other
    ///   parameter present in only one is ignored;
    /// - URI headers are never ignored: both must hold the same set (any order), values compared after
    ///   unescaping.
    public func isEquivalent(to other: SIPURI) -> Bool {
        guard isSecure == other.isSecure else { return false }
        guard user.map(URIEscaping.unescapedBytes) == other.user.map(URIEscaping.unescapedBytes),
            password.map(URIEscaping.unescapedBytes) == other.password.map(URIEscaping.unescapedBytes)
        else { return false }
        guard host.isEquivalent(to: other.host), port == other.port else { return false }

        // Parameter names and values compare case-insensitively after unescaping (§19.1.4).
        let mine = SIPURI.normalized(parameters)
        let theirs = SIPURI.normalized(other.parameters)
        let alwaysCompared: Set<String> = ["user", "ttl", "method", "maddr", "transport"]
        for (name, value) in mine {
            if let counterpart = theirs.first(where: { $0.name == name }) {
                guard counterpart.value == value else { return false }
            } else if alwaysCompared.contains(name) {
                return false
            }
        }
        for (name, _) in theirs where alwaysCompared.contains(name) && !mine.contains(where: { $0.name == name }) {
            return false
        }

        guard headers.count == other.headers.count else { return false }
        for header in headers {
            let name = URIEscaping.unescaped(header.name)
            let value = URIEscaping.unescapedBytes(header.value ?? "")
            let match = other.headers.contains {
                URIEscaping.unescaped($0.name).equalsIgnoringASCIICase(name)
                    && URIEscaping.unescapedBytes($0.value ?? "") == value
            }
            guard match else { return false }
        }
        return true
    }

    static func normalized(_ parameters: [GenericParameter]) -> [(name: String, value: String?)] {
        parameters.map {
            (URIEscaping.unescaped($0.name).asciiLowercased, $0.value.map { URIEscaping.unescaped($0).asciiLowercased })
        }
    }
}
