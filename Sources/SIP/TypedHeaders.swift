/// Typed reading of the header fields a proxy needs. Each accessor parses on demand from the stored text
/// and throws `SIPParseError` naming the header; `MessageParser` has already validated the ones listed in
/// `MessageParser.validatedHeaders`, so on a parsed message those do not throw.
extension SIPHeaders {
    /// Every Via value, top first, across lines and commas (§20.42).
    public func vias() throws(SIPParseError) -> [Via] {
        if let parsed { return parsed.vias }
        var vias: [Via] = []
        var position = index(of: .via)
        while let current = position {
            vias += try Via.parseList(fields[current].value)
            position = index(of: .via, from: current + 1)
        }
        return vias
    }

    /// The topmost Via (§8.2.6.2, §16.7 step 3, §18.2.1), parsing only that one; nil when there is none.
    public func topVia() throws(SIPParseError) -> Via? {
        if let parsed { return parsed.vias.first }
        guard let value = first(.via) else { return nil }
        return try Via.parseFirst(value)
    }

    /// From (§20.20).
    public func from() throws(SIPParseError) -> NameAddress {
        try singleAddress(.from)
    }

    /// To (§20.39).
    public func to() throws(SIPParseError) -> NameAddress {
        try singleAddress(.to)
    }

    /// The `tag` of From (§19.3), nil when From has none; what dialog and loop matching read, without
    /// building the whole address on a parsed message.
    public func fromTag() throws(SIPParseError) -> String? {
        if let parsed { return parsed.fromTag }
        return try from().tag
    }

    /// The `tag` of To (§19.3), nil when To has none (an initial request, §12.1.1).
    public func toTag() throws(SIPParseError) -> String? {
        if let parsed { return parsed.toTag }
        return try to().tag
    }

    /// Call-ID (§20.8): `word ["@" word]`.
    public func callID() throws(SIPParseError) -> String {
        guard let value = first(.callID) else { throw SIPParseError(.missingHeader, header: .callID) }
        guard SIPHeaders.isValidCallID(value) else { throw SIPParseError(.malformedHeader, header: .callID) }
        return value
    }

    /// CSeq (§20.16).
    public func cseq() throws(SIPParseError) -> CSeq {
        if let parsed { return parsed.cseq }
        guard let value = first(.cseq) else { throw SIPParseError(.missingHeader, header: .cseq) }
        return try CSeq(parsing: value)
    }

    /// Max-Forwards (§20.22), 0...255; nil when absent. Larger values are malformed (RFC 4475 `scalar02`).
    public func maxForwards() throws(SIPParseError) -> UInt8? {
        guard let value = first(.maxForwards) else { return nil }
        guard let number = SIPHeaders.decimal(value, limit: 255) else {
            throw SIPParseError(.malformedHeader, header: .maxForwards)
        }
        return UInt8(number)
    }

    /// Content-Length (§20.14); nil when absent.
    public func contentLength() throws(SIPParseError) -> Int? {
        guard let value = first(.contentLength) else { return nil }
        guard let number = SIPHeaders.decimal(value, limit: UInt64(Int32.max)) else {
            throw SIPParseError(.invalidContentLength, header: .contentLength)
        }
        return Int(number)
    }

    /// Content-Type (§20.15); nil when absent.
    public func contentType() throws(SIPParseError) -> MediaType? {
        guard let value = first(.contentType) else { return nil }
        return try MediaType(parsing: value)
    }

    /// Route values in order, across lines (§20.34); the first is the next hop (§16.4, §16.12).
    public func routes() throws(SIPParseError) -> [NameAddress] {
        try addressList(.route)
    }

    /// Record-Route values in order (§20.30).
    public func recordRoutes() throws(SIPParseError) -> [NameAddress] {
        try addressList(.recordRoute)
    }

    /// Path values in order (RFC 3327 §4).
    public func paths() throws(SIPParseError) -> [NameAddress] {
        try addressList(.path)
    }

    /// Contact (§20.10); nil when absent. `*` alone is `.wildcard`.
    public func contact() throws(SIPParseError) -> ContactField? {
        guard contains(.contact) else { return nil }
        let values = self[.contact]
        if values.count == 1, values[0] == "*" { return .wildcard }
        return .addresses(try addressList(.contact))
    }

    /// Supported option tags (§20.37); empty when absent or empty.
    public func supported() throws(SIPParseError) -> [String] {
        try optionTags(.supported)
    }

    /// Require option tags (§20.32).
    public func require() throws(SIPParseError) -> [String] {
        try optionTags(.require)
    }

    /// Proxy-Require option tags (§20.29): a proxy answers 420 for any it does not support (§16.3 step 5).
    public func proxyRequire() throws(SIPParseError) -> [String] {
        try optionTags(.proxyRequire)
    }

    func singleAddress(_ name: SIPHeaderName) throws(SIPParseError) -> NameAddress {
        guard let value = first(name) else { throw SIPParseError(.missingHeader, header: name) }
        return try NameAddress(parsing: value, header: name)
    }

    func addressList(_ name: SIPHeaderName) throws(SIPParseError) -> [NameAddress] {
        var addresses: [NameAddress] = []
        var position = index(of: name)
        while let current = position {
            addresses += try NameAddress.parseList(fields[current].value, header: name)
            position = index(of: name, from: current + 1)
        }
        return addresses
    }

    func optionTags(_ name: SIPHeaderName) throws(SIPParseError) -> [String] {
        var tags: [String] = []
        var position = index(of: name)
        while let current = position {
            position = index(of: name, from: current + 1)
            let value = fields[current].value
            if value.isEmpty { continue }
            for element in splitHeaderList(value) {
                guard !element.isEmpty, element.utf8.allSatisfy({ ByteClass.test($0, ByteClass.token) }) else {
                    throw SIPParseError(.malformedHeader, header: name)
                }
                tags.append(String(element))
            }
        }
        return tags
    }

    static func decimal(_ value: String, limit: UInt64) -> UInt64? {
        value.withUTF8Bytes { buffer in
            var cursor = ByteCursor(buffer)
            cursor.skipWhitespace()
            let digits = cursor.read(ByteClass.digit)
            cursor.skipWhitespace()
            guard cursor.isAtEnd else { return nil }
            return cursor.decimal(digits, limit: limit)
        }
    }

    /// `callid = word [ "@" word ]` (§25.1; RFC 4475 `intmeth`).
    static func isValidCallID(_ value: String) -> Bool {
        var ats = 0
        var previousAt = true
        for byte in value.utf8 {
            if byte == UInt8(ascii: "@") {
                guard !previousAt else { return false }
                ats += 1
                previousAt = true
            } else {
                guard ByteClass.test(byte, ByteClass.word) else { return false }
                previousAt = false
            }
        }
        return ats <= 1 && !previousAt
    }
}
