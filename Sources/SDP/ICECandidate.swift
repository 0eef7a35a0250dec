/// `a=candidate` (RFC 8839 §5.1):
/// `<foundation> <component> <transport> <priority> <address> <port> typ <type>
/// [raddr <address>] [rport <port>] *(<extension name> <extension value>)`.
public struct ICECandidate: Hashable, Sendable, CustomStringConvertible {
    /// The candidate types of RFC 8445 §5.1.1.
    public enum CandidateType: Hashable, Sendable, CustomStringConvertible {
        case host
        case serverReflexive
        case peerReflexive
        case relayed
        case other(String)

        public init(_ text: String) {
            switch text {
            case "host": self = .host
            case "srflx": self = .serverReflexive
            case "prflx": self = .peerReflexive
            case "relay": self = .relayed
            default: self = .other(text)
            }
        }

        public var description: String {
            switch self {
            case .host: "host"
            case .serverReflexive: "srflx"
            case .peerReflexive: "prflx"
            case .relayed: "relay"
            case .other(let text): text
            }
        }

        /// The recommended type preference of RFC 8445 §5.1.2.2.
        public var recommendedTypePreference: UInt32 {
            switch self {
            case .host: 126
            case .peerReflexive: 110
            case .serverReflexive: 100
            case .relayed, .other: 0
            }
        }
    }

    /// 1…32 `ice-char`s.
    public var foundation: String
    /// 1 for RTP (and RTCP with rtcp-mux), 2 for a separate RTCP; 1…256.
    public var component: Int
    /// `UDP` or `TCP` as sent (Chrome writes lower case).
    public var transport: String
    public var priority: UInt32
    /// An IP address or, from browsers hiding local addresses, an mDNS name ending in `.local`.
    public var address: String
    public var port: UInt16
    public var type: CandidateType
    public var relatedAddress: String?
    public var relatedPort: UInt16?
    /// `generation 0`, `network-id 1`, `tcptype active`, `ufrag …`, in order.
    public var extensions: [(name: String, value: String)]

    public init(
        foundation: String, component: Int = 1, transport: String = "UDP", priority: UInt32, address: String,
        port: UInt16, type: CandidateType, relatedAddress: String? = nil, relatedPort: UInt16? = nil,
        extensions: [(name: String, value: String)] = []
    ) {
        self.foundation = foundation
        self.component = component
        self.transport = transport
        self.priority = priority
        self.address = address
        self.port = port
        self.type = type
        self.relatedAddress = relatedAddress
        self.relatedPort = relatedPort
        self.extensions = extensions
    }

    /// The priority formula of RFC 8445 §5.1.2.1.
    public static func priority(typePreference: UInt32, localPreference: UInt32, component: Int) -> UInt32 {
        (typePreference << 24) &+ (min(localPreference, 65535) << 8) &+ UInt32(256 - max(1, min(component, 256)))
    }

    /// Parses the attribute value; a leading `candidate:` (as in a trickled JavaScript string) is accepted.
    public init?(attributeValue value: String) {
        var text = Substring(value)
        if text.hasPrefix("candidate:") { text = text.dropFirst("candidate:".count) }
        let f = text.split(separator: " ", omittingEmptySubsequences: true)
        guard f.count >= 8, f.count % 2 == 0, f[0].count <= 32, !f[0].isEmpty, f[0].allSatisfy(\.isICECharacter),
            let component = Int(f[1]), (1...256).contains(component),
            !f[2].isEmpty, f[2].allSatisfy(\.isSDPTokenCharacter),
            f[3].count <= 10, let priority = UInt32(f[3]),
            !f[4].isEmpty, let port = UInt16(f[5]), f[6] == "typ", f[7].allSatisfy(\.isSDPTokenCharacter)
        else { return nil }
        self.init(
            foundation: String(f[0]), component: component, transport: String(f[2]), priority: priority,
            address: String(f[4]), port: port, type: CandidateType(String(f[7])))
        var index = 8
        while index + 1 < f.count {
            let name = f[index]
            let value = f[index + 1]
            switch name {
            case "raddr" where relatedAddress == nil && extensions.isEmpty:
                relatedAddress = String(value)
            case "rport" where relatedPort == nil && extensions.isEmpty:
                guard let port = UInt16(value) else { return nil }
                relatedPort = port
            default:
                guard name.allSatisfy(\.isSDPTokenCharacter) else { return nil }
                extensions.append((String(name), String(value)))
            }
            index += 2
        }
    }

    /// True for UDP (ignoring case).
    public var isUDP: Bool { transport.lowercased() == "udp" }

    /// The value of extension `name` (`generation`, `tcptype`, …).
    public func extensionValue(_ name: String) -> String? {
        extensions.first { $0.name == name }?.value
    }

    /// The attribute value.
    public var description: String {
        var text = "\(foundation) \(component) \(transport) \(priority) \(address) \(port) typ \(type)"
        if let relatedAddress { text += " raddr \(relatedAddress)" }
        if let relatedPort { text += " rport \(relatedPort)" }
        for (name, value) in extensions { text += " \(name) \(value)" }
        return text
    }

    public static func == (lhs: ICECandidate, rhs: ICECandidate) -> Bool { lhs.description == rhs.description }
    public func hash(into hasher: inout Hasher) { hasher.combine(description) }
}

extension Character {
    /// `ice-char` of RFC 8839 §5.1: `ALPHA / DIGIT / "+" / "/"`.
    var isICECharacter: Bool {
        guard let ascii = asciiValue else { return false }
        return (0x30...0x39).contains(ascii) || (0x41...0x5A).contains(ascii) || (0x61...0x7A).contains(ascii)
            || ascii == 0x2B || ascii == 0x2F
    }
}
