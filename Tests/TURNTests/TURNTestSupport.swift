import STUN
import TURN
import Testing

/// Shared pieces for driving `AllocationServer` without sockets or a clock: fixed time, a
/// fake relay provider, a client that speaks long-term credentials like a real one, and the
/// decoded view of the server's answers.

typealias TestServer = AllocationServer<FakeRelays>

// MARK: - Time

/// Time as the driver would pass it: a fixed point on the monotonic clock (a machine up for
/// about 14 hours), advanced by explicit durations, and a fixed Unix time advanced by the same
/// number of seconds.
enum TestTime {
    static let base = MonotonicTime(nanoseconds: 50_000 * 1_000_000_000)
    static let unix: UInt64 = 1_700_000_000

    static func instant(_ seconds: Int64) -> MonotonicTime {
        base + .seconds(seconds)
    }

    /// `seconds` after the start, on both clocks.
    static func at(_ seconds: Int64) -> Moment {
        Moment(monotonic: instant(seconds), unixSeconds: UInt64(Int64(unix) + seconds))
    }

    /// The two clocks apart: `monotonic` seconds on the monotonic one, `unix` on the wall.
    static func at(monotonic: Int64, unix unixOffset: Int64) -> Moment {
        Moment(monotonic: instant(monotonic), unixSeconds: UInt64(Int64(unix) + unixOffset))
    }
}

// MARK: - Addresses

func testAddress(_ text: String, _ port: UInt16) -> TransportAddress {
    guard let address = TransportAddress(text: text, port: port) else {
        preconditionFailure("bad test address \(text)")
    }
    return address
}

enum Addresses {
    static let server = testAddress("192.0.2.1", 3478)

    static func tuple(
        _ clientPort: UInt16, host: String = "198.51.100.7", transport: ClientTransport = .udp
    ) -> FiveTuple {
        FiveTuple(client: testAddress(host, clientPort), server: server, transport: transport)
    }

    /// Public peers that the default `PeerPolicy` allows.
    static let peer = testAddress("1.1.1.1", 5000)
    static let otherPeer = testAddress("8.8.8.8", 6000)
    static let thirdPeer = testAddress("9.9.9.9", 7000)
}

// MARK: - Relay provider

/// Hands out 127.0.0.1 (or ::1) ports from 50000 upward, honouring `evenPort` and
/// `reserveNext`, and records what it opened and closed. `families` are the families served;
/// of those, `full` ones have no port free.
struct FakeRelays: RelayAddressProvider {
    var nextPort: UInt16 = 50_000
    var families: Set<TransportAddress.Family> = [.ipv4]
    var full: Set<TransportAddress.Family> = []
    private(set) var opened: [TransportAddress] = []
    private(set) var closed: [TransportAddress] = []

    init(families: Set<TransportAddress.Family> = [.ipv4], full: Set<TransportAddress.Family> = []) {
        self.families = families
        self.full = full
    }

    func serves(_ family: TransportAddress.Family) -> Bool {
        families.contains(family)
    }

    static func relay(_ port: UInt16, family: TransportAddress.Family = .ipv4) -> TransportAddress {
        testAddress(family == .ipv4 ? "127.0.0.1" : "::1", port)
    }

    mutating func open(family: TransportAddress.Family, evenPort: Bool, reserveNext: Bool)
        -> (relayed: TransportAddress, reserved: TransportAddress?)?
    {
        guard families.contains(family), !full.contains(family) else { return nil }
        if evenPort || reserveNext, !nextPort.isMultiple(of: 2) { nextPort += 1 }
        let relayed = Self.relay(nextPort, family: family)
        nextPort += 1
        opened.append(relayed)
        var reserved: TransportAddress?
        if reserveNext {
            reserved = Self.relay(nextPort, family: family)
            nextPort += 1
            opened.append(reserved!)
        }
        return (relayed, reserved)
    }

    mutating func close(_ relayed: TransportAddress) {
        closed.append(relayed)
    }

    /// Opened and not closed.
    var live: [TransportAddress] {
        opened.filter { !closed.contains($0) }
    }
}

// MARK: - Server

enum Fixture {
    static let realm = "stagedoor.test"
    static let nonceKey: [UInt8] = (0..<32).map { UInt8(truncatingIfNeeded: $0 &* 29 &+ 7) }
    static let alicePassword = "alice-password"
    static let bobPassword = "bob-password"

    static func settings() -> AllocationSettings {
        var settings = AllocationSettings(realm: realm)
        settings.addUser("alice", password: alicePassword)
        settings.addUser("bob", password: bobPassword)
        return settings
    }

    static func server(
        policy: PeerPolicy = PeerPolicy(), relays: FakeRelays = FakeRelays(),
        configure: (inout AllocationSettings) -> Void = { _ in }
    ) -> TestServer {
        var settings = settings()
        configure(&settings)
        return TestServer(
            settings: settings, policy: policy, nonces: NonceIssuer(key: nonceKey, lifetimeSeconds: 600),
            relays: relays)
    }

    static func alice(_ port: UInt16 = 40_000, transport: ClientTransport = .udp) -> TestClient {
        TestClient(tuple: Addresses.tuple(port, transport: transport), username: "alice", password: alicePassword)
    }

    static func bob(_ port: UInt16 = 40_001) -> TestClient {
        TestClient(tuple: Addresses.tuple(port, host: "198.51.100.8"), username: "bob", password: bobPassword)
    }
}

// MARK: - Responses

extension AllocationServer.Outcome {
    var responseBytes: [UInt8]? {
        if case .respond(let bytes) = self { bytes } else { nil }
    }
}

/// A server answer, decoded.
struct Reply {
    let bytes: [UInt8]
    let parsed: ParsedSTUNMessage
    /// How many requests the client sent to get this answer (2 after a 401 or 438 round trip).
    var attempts = 1

    var message: STUNMessage { parsed.message }
    var messageClass: STUNClass { message.type.messageClass }
    var isSuccess: Bool { messageClass == .successResponse }
    /// The ERROR-CODE number of an error response, nil for anything else.
    var code: Int? { messageClass == .errorResponse ? message.errorCode?.code : nil }

    init(
        _ outcome: TestServer.Outcome, to request: STUNMessage, sourceLocation: SourceLocation = #_sourceLocation
    ) throws {
        let bytes = try #require(
            outcome.responseBytes, "expected a response, got \(outcome)",
            sourceLocation: sourceLocation)
        self.bytes = bytes
        self.parsed = try STUNCodec.decode(bytes)
        #expect(parsed.message.transactionID == request.transactionID, sourceLocation: sourceLocation)
        #expect(parsed.message.type.method == request.type.method, sourceLocation: sourceLocation)
        #expect(
            parsed.message.type.messageClass == .successResponse
                || parsed.message.type.messageClass == .errorResponse,
            sourceLocation: sourceLocation)
    }

    /// Carries MESSAGE-INTEGRITY, and it verifies with `key`.
    func isAuthenticated(with key: [UInt8]) -> Bool {
        parsed.hasMessageIntegrity && parsed.verifyMessageIntegrity(key: key)
    }

    var hasIntegrity: Bool { parsed.hasMessageIntegrity || parsed.hasMessageIntegritySHA256 }
}

// MARK: - Client

/// A TURN client's view of one 5-tuple: the long-term credentials it holds and the realm
/// and nonce the server gave it.
struct TestClient {
    var tuple: FiveTuple
    var username: String
    var password: String
    var fingerprint = false
    var realm: String?
    var nonce: String?

    /// The long-term key for the realm the client knows (RFC 8489 §9.2.2).
    var key: [UInt8] {
        STUNCredentials.longTermKey(username: username, realm: realm ?? "", password: password)
    }

    /// `message` on the wire: with USERNAME, REALM, NONCE and MESSAGE-INTEGRITY once a realm and
    /// nonce are known (RFC 8489 §9.2.3.2), bare before (§9.2.3.1).
    func encode(_ message: STUNMessage) -> [UInt8] {
        guard let realm, let nonce else { return message.encode(fingerprint: fingerprint) }
        var signed = message
        signed.attributes += [.username(username), .realm(realm), .nonce(nonce)]
        return signed.encode(integrity: STUNIntegrity(key: key), fingerprint: fingerprint)
    }

    mutating func learn(from reply: Reply) {
        if let realm = reply.message.realm { self.realm = realm }
        if let nonce = reply.message.nonce { self.nonce = nonce }
    }

    /// One request with a fresh transaction, no retry.
    func once(
        _ method: STUNMethod, _ attributes: [STUNAttribute] = [], to server: inout TestServer, at now: Moment,
        sourceLocation: SourceLocation = #_sourceLocation
    ) throws -> Reply {
        let request = STUNMessage(method: method, messageClass: .request, attributes: attributes)
        return try Reply(
            server.handle(encode(request), from: tuple, now: now), to: request, sourceLocation: sourceLocation)
    }

    /// One request as a real client makes it (RFC 8489 §9.2.5): a 401 to a request without
    /// credentials, or a 438, makes it learn the realm and nonce and retry once with a new
    /// transaction; a 401 to a request that carried credentials is final.
    mutating func send(
        _ method: STUNMethod, _ attributes: [STUNAttribute] = [], to server: inout TestServer, at now: Moment,
        sourceLocation: SourceLocation = #_sourceLocation
    ) throws -> Reply {
        var attempts = 0
        var retriedStale = false
        while true {
            let hadCredentials = realm != nil && nonce != nil
            attempts += 1
            var reply = try once(method, attributes, to: &server, at: now, sourceLocation: sourceLocation)
            reply.attempts = attempts
            switch reply.code {
            case 401 where !hadCredentials && reply.message.realm != nil && reply.message.nonce != nil:
                learn(from: reply)
            case 438 where !retriedStale && reply.message.nonce != nil:
                retriedStale = true
                learn(from: reply)
            default:
                return reply
            }
        }
    }

    /// Allocate with REQUESTED-TRANSPORT UDP, plus `extra`.
    mutating func allocate(
        _ extra: [STUNAttribute] = [], on server: inout TestServer, at now: Moment = TestTime.at(0),
        sourceLocation: SourceLocation = #_sourceLocation
    ) throws -> Reply {
        try send(.allocate, [.requestedTransport(17)] + extra, to: &server, at: now, sourceLocation: sourceLocation)
    }

    /// Allocate that must succeed; returns the advertised relayed address.
    @discardableResult
    mutating func allocated(
        _ extra: [STUNAttribute] = [], on server: inout TestServer, at now: Moment = TestTime.at(0),
        sourceLocation: SourceLocation = #_sourceLocation
    ) throws -> TransportAddress {
        let reply = try allocate(extra, on: &server, at: now, sourceLocation: sourceLocation)
        try #require(reply.isSuccess, "Allocate failed: \(reply.message)", sourceLocation: sourceLocation)
        return try #require(reply.message.xorRelayedAddress, sourceLocation: sourceLocation)
    }

    /// CreatePermission for `peers`.
    mutating func permit(
        _ peers: [TransportAddress], on server: inout TestServer, at now: Moment = TestTime.at(0),
        sourceLocation: SourceLocation = #_sourceLocation
    ) throws -> Reply {
        try send(
            .createPermission, peers.map { .xorPeerAddress($0) }, to: &server, at: now,
            sourceLocation: sourceLocation)
    }

    /// ChannelBind of `number` to `peer`.
    mutating func bind(
        _ number: UInt16, to peer: TransportAddress, on server: inout TestServer, at now: Moment = TestTime.at(0),
        sourceLocation: SourceLocation = #_sourceLocation
    ) throws -> Reply {
        try send(
            .channelBind, [.channelNumber(number), .xorPeerAddress(peer)], to: &server, at: now,
            sourceLocation: sourceLocation)
    }

    /// A Send indication (unauthenticated, RFC 8656 §11.1).
    func sendIndication(
        to peer: TransportAddress, payload: [UInt8], extra: [STUNAttribute] = [], on server: inout TestServer,
        at now: Moment = TestTime.at(0)
    ) -> TestServer.Outcome {
        let indication = STUNMessage(
            method: .send, messageClass: .indication, attributes: [.xorPeerAddress(peer), .data(payload)] + extra)
        let bytes = indication.encode(fingerprint: fingerprint)
        // The relay reads plain Send indications in place (`routeSendIndication`): on a copy of
        // the server it must decide as `handle` does, and count the same.
        var inPlace = server
        let route = bytes.withUnsafeBytes { inPlace.routeSendIndication($0, from: tuple, now: now.monotonic) }
        let outcome = server.handle(bytes, from: tuple, now: now)
        switch route {
        case .relay(let relayed, let to, let range):
            #expect(outcome == .relay(from: relayed, to: to, payload: Array(bytes[range])))
            #expect(inPlace.counters == server.counters)
        case .drop:
            #expect(outcome == .ignore)
            #expect(inPlace.counters == server.counters)
        case .other:
            break
        }
        return outcome
    }
}

// MARK: - Randomness

/// A seeded generator (SplitMix64) so the robustness tests are reproducible.
struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

// MARK: - Data path shorthands

extension AllocationServer {
    /// `routeChannelData` for a `length`-byte payload, `seconds` after the start.
    mutating func channelRoute(
        _ number: UInt16, from tuple: FiveTuple, at seconds: Int64, length: Int = 100
    ) -> (relayed: TransportAddress, peer: TransportAddress)? {
        routeChannelData(channel: number, length: length, from: tuple, now: TestTime.instant(seconds))
    }

    /// `routePeerData` for a `length`-byte datagram, `seconds` after the start.
    mutating func peerRoute(
        to relayed: TransportAddress, from source: TransportAddress, at seconds: Int64, length: Int = 100
    ) -> PeerRoute {
        routePeerData(to: relayed, from: source, length: length, now: TestTime.instant(seconds))
    }
}
