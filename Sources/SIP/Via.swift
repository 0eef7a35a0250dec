/// One Via value (RFC 3261 §20.42, §18.2.1, §25.1 `via-parm`): the transport and address a request was
/// sent from, plus the parameters that match responses to it and route them back —
/// `SIP/2.0/UDP host:port;branch=z9hG4bK...;received=addr;rport=port`.
public struct Via: Hashable, Sendable, CustomStringConvertible {
    /// The magic cookie that starts every RFC 3261 branch (§8.1.1.7, §17.2.3).
    public static let magicCookie = "z9hG4bK"

    public var protocolName: String
    public var protocolVersion: String
    /// The transport (`UDP`, `TCP`, `TLS`, `SCTP`, `WS`, `WSS` of RFC 7118, or other), uppercased.
    public var transport: String
    /// The sent-by host.
    public var host: SIPHost
    /// The sent-by port; absent means the transport's default (§18.2.2).
    public var port: UInt16?
    /// All via-params in order, known ones included, values as written.
    public var parameters: [GenericParameter]

    public init(
        transport: String, host: SIPHost, port: UInt16? = nil, branch: String? = nil,
        parameters: [GenericParameter] = []
    ) {
        self.protocolName = "SIP"
        self.protocolVersion = "2.0"
        self.transport = transport.asciiUppercased
        self.host = host
        self.port = port
        self.parameters = parameters
        if let branch { self.branch = branch }
    }

    /// The `branch` parameter (§8.1.1.7): the transaction identifier.
    public var branch: String? {
        get { parameters.first(named: "branch")?.value }
        set { setParameter("branch", newValue) }
    }

    /// Whether the branch starts with the magic cookie, i.e. the sender follows RFC 3261 transaction
    /// identification (§17.2.3) rather than RFC 2543's.
    public var hasMagicCookie: Bool { branch?.hasPrefix(Via.magicCookie) ?? false }

    /// The `received` parameter (§18.2.1): the source address a server saw, when it differs from sent-by.
    public var received: String? {
        get { parameters.first(named: "received")?.value }
        set { setParameter("received", newValue) }
    }

    /// The `rport` parameter (RFC 3581 §4): `.requested` when the client asked for symmetric response
    /// routing (no value), `.port` once a server filled in the source port, nil when absent.
    public var rport: RPort? {
        get {
            guard let parameter = parameters.first(named: "rport") else { return nil }
            guard let value = parameter.value else { return .requested }
            guard let port = UInt16(value) else { return .requested }
            return .port(port)
        }
        set {
            switch newValue {
            case nil: parameters.remove(named: "rport")
            case .requested: parameters.set("rport", nil)
            case .port(let port): parameters.set("rport", String(port))
            }
        }
    }

    /// The `maddr` parameter (§18.2.2): a multicast or other address responses go to.
    public var maddr: String? {
        get { parameters.first(named: "maddr")?.value }
        set { setParameter("maddr", newValue) }
    }

    /// The `ttl` parameter (§18.2.2), 0...255, for multicast.
    public var ttl: UInt8? {
        get { parameters.first(named: "ttl")?.value.flatMap { UInt8($0) } }
        set { setParameter("ttl", newValue.map { String($0) }) }
    }

    /// sent-by as `host[:port]`.
    public var sentBy: String {
        guard let port else { return host.description }
        var text = TextBuilder(capacity: 32)
        host.append(to: &text, port: port)
        return text.text
    }

    /// Whether this Via says the transport is reliable (§17.1.1.2: timers differ); unknown transports count as
    /// unreliable.
    public var isReliableTransport: Bool {
        // A switch over literals: an array literal here was built (allocated) on every call.
        switch transport.asciiUppercased {
        case "TCP", "TLS", "SCTP", "TLS-SCTP", "WS", "WSS": true
        default: false
        }
    }

    public var description: String {
        // A Via is written for every forwarded request.
        var text = TextBuilder(capacity: 128)
        text.append(protocolName)
        text.append("/")
        text.append(protocolVersion)
        text.append("/")
        text.append(transport)
        text.append(" ")
        host.append(to: &text, port: port)
        parameters.append(to: &text)
        return text.text
    }

    /// Records where a request really came from, as a server does on receipt (§18.2.1, RFC 3581 §4): adds
    /// `received` when sent-by is a name or a different address, and when `rport` was requested fills it
    /// with the source port (and then always adds `received`).
    public mutating func stampReceived(sourceAddress: String, sourcePort: UInt16) {
        let source = SIPHost(sourceAddress)
        let wantsPort = rport != nil
        if wantsPort {
            rport = .port(sourcePort)
        }
        if wantsPort || source.map({ !host.isEquivalent(to: $0) }) ?? true {
            received = source?.bareHost ?? sourceAddress
        }
    }

    /// Where a response to the request this Via came from goes (§18.2.2, RFC 3581 §4): to `maddr` if present,
    /// else to `received` (or the sent-by host), at the `rport` value if the server filled one in, else the
    /// sent-by port, else `defaultPort` (5060, or 5061 for TLS, §19.1.2). For reliable transports the response
    /// should first go over the connection the request arrived on; this is the fallback.
    public func responseDestination(defaultPort: UInt16 = 5060) -> (host: String, port: UInt16) {
        if let maddr { return (maddr, port ?? defaultPort) }
        let target = received ?? host.bareHost
        if case .port(let value) = rport { return (target, value) }
        return (target, port ?? defaultPort)
    }

    private mutating func setParameter(_ name: String, _ value: String?) {
        if let value { parameters.set(name, value) } else { parameters.remove(named: name) }
    }

    /// Parses one Via header line's value: one or more comma-separated via-parms, LWS allowed around `/`,
    /// `:`, `;`, `=` and `,` (§25.1; RFC 4475 `wsinv`).
    public static func parseList(_ value: String) throws(SIPParseError) -> [Via] {
        let parsed: Result<[Via], SIPParseError> = value.withUTF8Bytes { buffer in
            var cursor = ByteCursor(buffer)
            var vias: [Via] = []
            do throws(SIPParseError) {
                repeat {
                    vias.append(try Via.parse(&cursor))
                    cursor.skipWhitespace()
                } while cursor.consume(UInt8(ascii: ","))
                guard cursor.isAtEnd else { throw SIPParseError(.malformedHeader, header: .via) }
                return .success(vias)
            } catch {
                return .failure(error)
            }
        }
        return try parsed.get()
    }

    /// Parses the first via-parm of a Via line's value, ignoring the rest.
    static func parseFirst(_ value: String) throws(SIPParseError) -> Via {
        let parsed: Result<Via, SIPParseError> = value.withUTF8Bytes { buffer in
            var cursor = ByteCursor(buffer)
            do throws(SIPParseError) {
                let via = try Via.parse(&cursor)
                cursor.skipWhitespace()
                guard cursor.isAtEnd || cursor.peek() == UInt8(ascii: ",") else {
                    throw SIPParseError(.malformedHeader, header: .via)
                }
                return .success(via)
            } catch {
                return .failure(error)
            }
        }
        return try parsed.get()
    }

    static func parse(_ cursor: inout ByteCursor) throws(SIPParseError) -> Via {
        let malformed = SIPParseError(.malformedHeader, header: .via)
        func slashToken(_ cursor: inout ByteCursor, first: Bool) throws(SIPParseError) -> String {
            cursor.skipWhitespace()
            if !first {
                guard cursor.consume(UInt8(ascii: "/")) else { throw malformed }
                cursor.skipWhitespace()
            }
            let range = cursor.readToken()
            guard !range.isEmpty else { throw malformed }
            return cursor.string(range)
        }
        let name = try slashToken(&cursor, first: true)
        let version = try slashToken(&cursor, first: false)
        let transport = try slashToken(&cursor, first: false)
        cursor.skipWhitespace()
        guard let host = SIPHost.parse(&cursor) else { throw malformed }
        var port: UInt16?
        let mark = cursor.index
        cursor.skipWhitespace()
        if cursor.consume(UInt8(ascii: ":")) {
            cursor.skipWhitespace()
            let digits = cursor.read(ByteClass.digit)
            guard let value = cursor.decimal(digits, limit: 65535) else { throw malformed }
            port = UInt16(value)
        } else {
            cursor.index = mark
        }
        let parameters = try GenericParameter.parseHeaderParameters(&cursor, header: .via)
        var via = Via(transport: transport, host: host, port: port, parameters: parameters)
        via.protocolName = name
        via.protocolVersion = version
        // The known parameters have grammars of their own (§25.1 via-ttl, via-maddr, via-received, via-branch;
        // RFC 3581 §3 response-port).
        for parameter in parameters {
            switch parameter.name.asciiLowercased {
            case "ttl":
                guard let value = parameter.value, value.utf8.count <= 3, let ttl = Int(value), ttl <= 255 else {
                    throw malformed
                }
            case "maddr", "received":
                guard let value = parameter.value, SIPHost(value) != nil else { throw malformed }
            case "branch":
                guard parameter.value != nil else { throw malformed }
            case "rport":
                if let value = parameter.value {
                    guard value.utf8.count <= 5, let port = Int(value), port <= 65535 else { throw malformed }
                }
            default:
                break
            }
        }
        return via
    }
}

/// The `rport` Via parameter of RFC 3581.
public enum RPort: Hashable, Sendable {
    /// Present without a value: the client asks for the response to go to the request's source port.
    case requested
    /// Filled in by the server with the source port it saw (§4).
    case port(UInt16)
}
