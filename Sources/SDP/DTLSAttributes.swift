/// `a=fingerprint:<hash function> <XX:XX:…>` (RFC 8122 §5): the hash of the certificate the peer's
/// DTLS handshake must present.
public struct Fingerprint: Hashable, Sendable, CustomStringConvertible {
    /// Lower-case hash function name from the IANA registry: `sha-256`, `sha-384`, `sha-512`, `sha-1`.
    public var hashFunction: String
    public var bytes: [UInt8]

    public init(hashFunction: String = "sha-256", bytes: [UInt8]) {
        self.hashFunction = hashFunction.lowercased()
        self.bytes = bytes
    }

    /// The digest length each known hash function must have; others are accepted at any length.
    static let digestLengths = ["sha-1": 20, "sha-224": 28, "sha-256": 32, "sha-384": 48, "sha-512": 64, "md5": 16]

    /// Parses the attribute value. Hex digits may be either case (RFC 8122 wants upper case;
    /// some stacks send lower case).
    public init?(attributeValue value: String) {
        let parts = value.trimmingSpaces().split(separator: " ", omittingEmptySubsequences: true)
        guard parts.count == 2, parts[0].allSatisfy(\.isSDPTokenCharacter) else { return nil }
        var bytes: [UInt8] = []
        for pair in parts[1].split(separator: ":", omittingEmptySubsequences: false) {
            guard pair.count == 2, let byte = UInt8(pair, radix: 16) else { return nil }
            bytes.append(byte)
        }
        let hashFunction = parts[0].lowercased()
        if let length = Self.digestLengths[hashFunction], bytes.count != length { return nil }
        self.init(hashFunction: hashFunction, bytes: bytes)
    }

    /// Colon-separated upper-case hex (RFC 8122 §5).
    public var hexDigest: String {
        bytes.map { byte in
            let digits = String(byte, radix: 16, uppercase: true)
            return digits.count == 1 ? "0" + digits : digits
        }.joined(separator: ":")
    }

    /// The attribute value.
    public var description: String { "\(hashFunction) \(hexDigest)" }
}

/// `a=setup` (RFC 4145 §4, RFC 8842 §5): which side opens the DTLS association.
public enum SetupRole: String, Hashable, Sendable {
    /// The offerer lets the answerer choose (an offer must say this, RFC 8842 §5.2).
    case actpass
    /// This side is the DTLS client.
    case active
    /// This side is the DTLS server.
    case passive
    case holdconn
}

/// `a=sendrecv` / `sendonly` / `recvonly` / `inactive` (RFC 8866 §6.7), from the point of view
/// of the side that wrote the description.
public enum MediaDirection: String, Hashable, Sendable, CaseIterable {
    case sendrecv
    case sendonly
    case recvonly
    case inactive

    public var sends: Bool { self == .sendrecv || self == .sendonly }
    public var receives: Bool { self == .sendrecv || self == .recvonly }

    public init(sends: Bool, receives: Bool) {
        switch (sends, receives) {
        case (true, true): self = .sendrecv
        case (true, false): self = .sendonly
        case (false, true): self = .recvonly
        case (false, false): self = .inactive
        }
    }

    /// The direction an answer may take toward this offered direction (RFC 3264 §6.1), given
    /// what the answerer is willing to do.
    public func answer(allowing local: MediaDirection) -> MediaDirection {
        MediaDirection(sends: receives && local.sends, receives: sends && local.receives)
    }
}

/// `a=group:<semantics> <mid> …` (RFC 5888 §5), e.g. `BUNDLE 0 1` (RFC 8843).
public struct MediaGroup: Hashable, Sendable, CustomStringConvertible {
    public var semantics: String
    public var mids: [String]

    public init(semantics: String, mids: [String]) {
        self.semantics = semantics
        self.mids = mids
    }

    public init?(attributeValue value: String) {
        let f = value.split(separator: " ", omittingEmptySubsequences: true)
        guard let semantics = f.first, semantics.allSatisfy(\.isSDPTokenCharacter) else { return nil }
        self.init(semantics: String(semantics), mids: f.dropFirst().map(String.init))
    }

    public var description: String { ([semantics] + mids).joined(separator: " ") }
}

/// `a=ssrc:<ssrc> <attribute>[:<value>]` (RFC 5576 §4.1), e.g. `a=ssrc:1234 cname:x`.
public struct SSRCAttribute: Hashable, Sendable, CustomStringConvertible {
    public var ssrc: UInt32
    public var attribute: String
    public var value: String?

    public init(ssrc: UInt32, attribute: String, value: String? = nil) {
        self.ssrc = ssrc
        self.attribute = attribute
        self.value = value
    }

    public init?(attributeValue text: String) {
        let parts = text.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: true)
        guard parts.count == 2, let ssrc = UInt32(parts[0]) else { return nil }
        let rest = parts[1]
        if let colon = rest.firstIndex(of: ":") {
            let name = rest[..<colon]
            guard !name.isEmpty, name.allSatisfy(\.isSDPTokenCharacter) else { return nil }
            self.init(ssrc: ssrc, attribute: String(name), value: String(rest[rest.index(after: colon)...]))
        } else {
            guard rest.allSatisfy(\.isSDPTokenCharacter) else { return nil }
            self.init(ssrc: ssrc, attribute: String(rest))
        }
    }

    public var description: String {
        if let value { "\(ssrc) \(attribute):\(value)" } else { "\(ssrc) \(attribute)" }
    }
}
