extension SessionDescription {
    /// The default upper bound on a description's size: generous for browsers (a Chrome offer with
    /// audio, video and data is about 6 KB) and small enough to refuse abuse early.
    public static let defaultMaximumLength = 64 * 1024

    /// Parses UTF-8 bytes (a WHIP request body).
    public init(parsing bytes: some Collection<UInt8>, maximumLength: Int = defaultMaximumLength)
        throws(SDPParseError)
    {
        guard bytes.count <= maximumLength else { throw SDPParseError(.tooLarge(limit: maximumLength), line: 0) }
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw SDPParseError(.invalidCharacter, line: 0)
        }
        try self.init(parsing: text, maximumLength: maximumLength)
    }

    /// Parses a session description (RFC 8866 §5, §9).
    ///
    /// Strict where a mistake means garbage: only the types RFC 8866 defines, `v=0`, `o=`, `s=` and
    /// `t=` present and `v`, `o`, `s` first, well-formed `o=`, `c=`, `b=`, `t=`, `m=` and attribute
    /// names, typed attributes the model reads (`rtpmap`, `fmtp`, `candidate`, `fingerprint`, …)
    /// well-formed too. Tolerant of what real stacks do: LF as well as CRLF line ends, blank lines,
    /// a missing final line end, trailing blanks, an empty `s=`, and any order of the optional lines.
    public init(parsing text: String, maximumLength: Int = defaultMaximumLength) throws(SDPParseError) {
        guard text.utf8.count <= maximumLength else {
            throw SDPParseError(.tooLarge(limit: maximumLength), line: 0)
        }
        var parser = SDPLineParser()
        var lineNumber = 0
        for rawLine in text.utf8.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false) {
            lineNumber += 1
            var line = Substring(rawLine)
            if line.utf8.last == UInt8(ascii: "\r") { line = line.dropLast() }
            // Trailing blanks (some SIP devices write "a=sendrecv ") carry no meaning.
            while line.last == " " || line.last == "\t" { line = line.dropLast() }
            if line.isEmpty { continue }
            if line.utf8.contains(where: { $0 == 0 || $0 == UInt8(ascii: "\r") }) {
                throw SDPParseError(.invalidCharacter, line: lineNumber)
            }
            try parser.consume(line, lineNumber: lineNumber)
        }
        self = try parser.finish(lastLine: lineNumber)
    }
}

/// The line-by-line state of the parser.
struct SDPLineParser {
    var version: Int?
    var origin: Origin?
    var sessionName: String?
    var session = SessionDescription(origin: Origin(sessionID: "0", sessionVersion: 0), timings: [])
    var current: MediaDescription?
    var seen: Set<Character> = []
    var mediaSeen: Set<Character> = []

    mutating func consume(_ line: Substring, lineNumber: Int) throws(SDPParseError) {
        let utf8 = line.utf8
        guard utf8.count >= 2, let typeByte = utf8.first, utf8[utf8.index(after: utf8.startIndex)] == UInt8(ascii: "=")
        else { throw SDPParseError(.malformedLine, line: lineNumber) }
        guard typeByte >= UInt8(ascii: "a"), typeByte <= UInt8(ascii: "z") else {
            throw SDPParseError(.malformedLine, line: lineNumber)
        }
        let type = Character(Unicode.Scalar(typeByte))
        let value = String(line.dropFirst(2))
        func fail(_ kind: SDPParseError.Kind) -> SDPParseError { SDPParseError(kind, line: lineNumber) }

        // v, o, s come first and in that order (RFC 8866 §5).
        let prefix: [Character] = ["v", "o", "s"]
        if seen.count < 3, current == nil {
            let expected = prefix[[version != nil, origin != nil, sessionName != nil].filter { $0 }.count]
            if type != expected {
                throw fail("voiuepcbtrzkams".contains(type) ? .missing(expected) : .unknownType(type))
            }
        }

        if current != nil || type == "m" {
            try consumeMedia(type, value, fail)
            return
        }
        let once: Set<Character> = ["v", "o", "s", "i", "u", "c", "z", "k"]
        if once.contains(type), seen.contains(type) { throw fail(.duplicate(type)) }
        switch type {
        case "v":
            guard value == "0" else { throw fail(.unsupportedVersion) }
            version = 0
        case "o":
            guard let origin = Self.parseOrigin(value) else { throw fail(.invalidOrigin) }
            self.origin = origin
        case "s": sessionName = value
        case "i": session.information = value
        case "u": session.uri = value
        case "e": session.emails.append(value)
        case "p": session.phones.append(value)
        case "c":
            guard let connection = Self.parseConnection(value) else { throw fail(.invalidConnection) }
            session.connection = connection
        case "b":
            guard let bandwidth = Self.parseBandwidth(value) else { throw fail(.invalidBandwidth) }
            session.bandwidths.append(bandwidth)
        case "t":
            guard let timing = Self.parseTiming(value) else { throw fail(.invalidTiming) }
            session.timings.append(timing)
        case "r":
            guard !session.timings.isEmpty else { throw fail(.outOfOrder("r")) }
            session.timings[session.timings.count - 1].repeats.append(value)
        case "z": session.timeZones = value
        case "k": session.encryptionKey = value
        case "a": session.attributes.append(try Self.parseAttribute(value, fail))
        default: throw fail(.unknownType(type))
        }
        seen.insert(type)
    }

    private mutating func consumeMedia(
        _ type: Character, _ value: String, _ fail: (SDPParseError.Kind) -> SDPParseError
    ) throws(SDPParseError) {
        if type == "m" {
            guard version != nil, origin != nil, sessionName != nil else { throw fail(.outOfOrder("m")) }
            guard !session.timings.isEmpty else { throw fail(.missing("t")) }
            guard let media = Self.parseMedia(value) else { throw fail(.invalidMedia) }
            if let current { session.media.append(current) }
            current = media
            mediaSeen = []
            return
        }
        if (type == "i" || type == "k"), mediaSeen.contains(type) { throw fail(.duplicate(type)) }
        switch type {
        case "i": current!.information = value
        case "c":
            guard let connection = Self.parseConnection(value) else { throw fail(.invalidConnection) }
            current!.connections.append(connection)
        case "b":
            guard let bandwidth = Self.parseBandwidth(value) else { throw fail(.invalidBandwidth) }
            current!.bandwidths.append(bandwidth)
        case "k": current!.encryptionKey = value
        case "a": current!.attributes.append(try Self.parseAttribute(value, fail))
        case "v", "o", "s", "u", "e", "p", "t", "r", "z": throw fail(.outOfOrder(type))
        default: throw fail(.unknownType(type))
        }
        mediaSeen.insert(type)
    }

    mutating func finish(lastLine: Int) throws(SDPParseError) -> SessionDescription {
        guard version != nil || origin != nil || sessionName != nil else { throw SDPParseError(.empty, line: 0) }
        guard let origin else { throw SDPParseError(.missing("o"), line: lastLine) }
        guard let sessionName else { throw SDPParseError(.missing("s"), line: lastLine) }
        guard !session.timings.isEmpty else { throw SDPParseError(.missing("t"), line: lastLine) }
        if let current { session.media.append(current) }
        session.origin = origin
        session.sessionName = sessionName
        return session
    }

    // MARK: Field grammars

    static func fields(_ value: String) -> [Substring] {
        value.split(separator: " ", omittingEmptySubsequences: true)
    }

    /// RFC 8866 §5.2.
    static func parseOrigin(_ value: String) -> Origin? {
        let f = fields(value)
        guard f.count == 6, f[1].allSatisfy(\.isASCIIDigit), !f[1].isEmpty,
            let version = UInt64(f[2])
        else { return nil }
        return Origin(
            username: String(f[0]), sessionID: String(f[1]), sessionVersion: version, networkType: String(f[3]),
            addressType: AddressType(String(f[4])), unicastAddress: String(f[5]))
    }

    /// RFC 8866 §5.7: `IP4` multicast addresses carry `/ttl[/count]`, `IP6` ones `/count`.
    static func parseConnection(_ value: String) -> ConnectionData? {
        let f = fields(value)
        guard f.count == 3 else { return nil }
        let addressType = AddressType(String(f[1]))
        let parts = f[2].split(separator: "/", omittingEmptySubsequences: false)
        guard let address = parts.first, !address.isEmpty, parts.count <= 3 else { return nil }
        var connection = ConnectionData(networkType: String(f[0]), addressType: addressType, address: String(address))
        var numbers: [Int] = []
        for part in parts.dropFirst() {
            guard let number = Int(part), number >= 0 else { return nil }
            numbers.append(number)
        }
        if addressType == .ip6 {
            guard numbers.count <= 1 else { return nil }
            connection.numberOfAddresses = numbers.first
        } else {
            if let ttl = numbers.first {
                guard ttl <= 255 else { return nil }
                connection.ttl = ttl
            }
            if numbers.count == 2 { connection.numberOfAddresses = numbers[1] }
        }
        return connection
    }

    /// RFC 8866 §5.8.
    static func parseBandwidth(_ value: String) -> Bandwidth? {
        guard let colon = value.firstIndex(of: ":") else { return nil }
        let type = value[..<colon]
        guard !type.isEmpty, type.allSatisfy(\.isSDPTokenCharacter),
            let amount = UInt64(value[value.index(after: colon)...])
        else { return nil }
        return Bandwidth(type: String(type), value: amount)
    }

    /// RFC 8866 §5.9.
    static func parseTiming(_ value: String) -> Timing? {
        let f = fields(value)
        guard f.count == 2, let start = UInt64(f[0]), let stop = UInt64(f[1]) else { return nil }
        return Timing(start: start, stop: stop)
    }

    /// RFC 8866 §5.14.
    static func parseMedia(_ value: String) -> MediaDescription? {
        let f = fields(value)
        guard f.count >= 3, !f[0].isEmpty, f[0].allSatisfy(\.isSDPTokenCharacter) else { return nil }
        let portParts = f[1].split(separator: "/", omittingEmptySubsequences: false)
        guard portParts.count <= 2, let port = UInt16(portParts[0]) else { return nil }
        var media = MediaDescription(
            media: String(f[0]), port: port, proto: String(f[2]), formats: f.dropFirst(3).map(String.init))
        if portParts.count == 2 {
            guard let count = Int(portParts[1]), count > 0 else { return nil }
            media.numberOfPorts = count
        }
        // At least one format, except that a rejected section is accepted without one.
        guard !media.formats.isEmpty || port == 0 else { return nil }
        guard media.proto.allSatisfy({ $0.isSDPTokenCharacter || $0 == "/" }) else { return nil }
        return media
    }

    /// RFC 8866 §5.13 and §9: `attribute = (attribute-name ":" attribute-value) / attribute-name`.
    static func parseAttribute(
        _ value: String, _ fail: (SDPParseError.Kind) -> SDPParseError
    ) throws(SDPParseError) -> Attribute {
        let name: Substring
        let attributeValue: String?
        if let colon = value.firstIndex(of: ":") {
            name = value[..<colon]
            attributeValue = String(value[value.index(after: colon)...])
        } else {
            name = value[...]
            attributeValue = nil
        }
        guard !name.isEmpty, name.allSatisfy(\.isSDPTokenCharacter) else { throw fail(.invalidAttribute(String(name))) }
        let attribute = Attribute(String(name), attributeValue)
        // Typed attributes the answerer relies on must be well-formed, so that a WHIP offer with a
        // broken candidate or fingerprint is a 400 rather than a failure later on.
        guard attribute.isWellFormed else { throw fail(.invalidAttribute(attribute.name)) }
        return attribute
    }
}

extension Character {
    /// `token-char` of RFC 8866 §9: visible ASCII except the separators.
    var isSDPTokenCharacter: Bool {
        guard let ascii = asciiValue else { return false }
        switch ascii {
        case 0x21, 0x23...0x27, 0x2A, 0x2B, 0x2D, 0x2E, 0x30...0x39, 0x41...0x5A, 0x5E...0x7E: return true
        default: return false
        }
    }

    var isASCIIDigit: Bool { asciiValue.map { $0 >= 0x30 && $0 <= 0x39 } ?? false }
}

extension Attribute {
    /// False when this is one of the attributes the model types and its value does not parse.
    public var isWellFormed: Bool {
        let value = self.value ?? ""
        switch name {
        case "rtpmap": return RTPMap(attributeValue: value) != nil
        case "fmtp": return FormatParameters(attributeValue: value) != nil
        case "candidate": return ICECandidate(attributeValue: value) != nil
        case "fingerprint": return Fingerprint(attributeValue: value) != nil
        case "setup": return SetupRole(rawValue: value) != nil
        case "group": return MediaGroup(attributeValue: value) != nil
        case "ptime", "maxptime": return PacketTimeMilliseconds.parse(value) != nil
        case "ssrc": return SSRCAttribute(attributeValue: value) != nil
        case "mid": return !value.isEmpty && !value.contains(" ")
        case "ice-ufrag", "ice-pwd": return !value.isEmpty && value.allSatisfy(\.isICECharacter)
        default: return true
        }
    }
}
