import STUN
import TURN

/// libFuzzer's entry point: one input, as a UDP datagram and as a TCP byte stream. Whatever the bytes,
/// nothing may trap, and the invariants checked below must hold; a broken one is a crash on purpose.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    Decoding.check(bytes)
    var session = ServerSession()
    session.datagram(bytes)
    for frame in Framing.frames(bytes) {
        if frame.count != bytes.count { Decoding.check(Array(frame)) }
        session.streamFrame(frame)
    }
    session.finish()
    return 0
}

/// Fails the input: libFuzzer reports the trap with the input that caused it.
func require(_ condition: @autoclosure () -> Bool, _ what: StaticString) {
    if !condition() { fatalError("invariant broken: \(what)") }
}

// MARK: - The codec

/// `STUNCodec.decode` and everything a server then does with a message: attribute accessors, the
/// integrity and fingerprint checks (RFC 8489 §14.5-§14.7), credentials (§9.2), re-encoding.
enum Decoding {
    static let key: [UInt8] = Array("fuzz-integrity-key".utf8)
    static let otherKey: [UInt8] = Array("another-key".utf8)

    static func check(_ bytes: [UInt8]) {
        let looksLikeSTUN = STUNCodec.looksLikeSTUN(bytes)
        let framedLength = STUNCodec.messageLength(header: bytes)
        let parsed: ParsedSTUNMessage
        do {
            parsed = try STUNCodec.decode(bytes)
        } catch {
            _ = error.description
            return
        }
        require(looksLikeSTUN, "a message that decodes looks like STUN")
        require(framedLength == bytes.count, "messageLength(header:) frames a decoded message exactly")
        let viaPointer = bytes.withUnsafeBytes { try? STUNCodec.decode($0) }
        require(viaPointer?.message == parsed.message, "decoding raw memory gives the same message")

        _ = parsed.verifyMessageIntegrity(key: key)
        _ = parsed.verifyMessageIntegritySHA256(key: key)
        _ = parsed.fingerprintValid
        read(parsed.message)

        // STUNMessage.encode: without integrity or fingerprint, every attribute is written as given, so a
        // decoded message re-encodes to the same message (padding aside); only text longer than an encoder
        // may send, which a decoder still accepts (RFC 8489 §14.3, §14.8-§14.10, §14.14), is cut.
        let encoded = parsed.message.encode()
        guard let again = try? STUNCodec.decode(encoded) else { fatalError("invariant broken: re-encoding decodes") }
        require(
            again.message == parsed.message || hasLongText(parsed.message), "re-encoding keeps the message")
        require(
            again.unknownComprehensionRequired == parsed.unknownComprehensionRequired,
            "re-encoding keeps the unknown comprehension-required attributes")
        require(again.message.encode() == encoded, "encoding is a fixed point")

        // Signing whatever was decoded must verify with that key only (§14.5, §14.6), fingerprint too (§14.7).
        let signed = parsed.message.encode(
            integrity: STUNIntegrity(key: key, sha1: true, sha256: true), fingerprint: true)
        guard let verified = try? STUNCodec.decode(signed) else { fatalError("invariant broken: signed decodes") }
        require(verified.verifyMessageIntegrity(key: key), "MESSAGE-INTEGRITY verifies")
        require(verified.verifyMessageIntegritySHA256(key: key), "MESSAGE-INTEGRITY-SHA256 verifies")
        require(!verified.verifyMessageIntegrity(key: otherKey), "MESSAGE-INTEGRITY fails with another key")
        require(verified.fingerprintValid == true, "FINGERPRINT verifies")
    }

    /// Whether a text attribute is longer than the encoder writes: USERNAME over 508 bytes, REALM, NONCE,
    /// SOFTWARE or a reason phrase over 127 characters or 509 bytes.
    static func hasLongText(_ message: STUNMessage) -> Bool {
        func long(_ text: String) -> Bool {
            text.unicodeScalars.count > STUNAttribute.maxTextCharacters || text.utf8.count > 509
        }
        return message.attributes.contains { attribute in
            switch attribute {
            case .username(let text): text.utf8.count > STUNAttribute.maxUsernameBytes
            case .realm(let text), .nonce(let text), .software(let text): long(text)
            case .errorCode(let error), .addressErrorCode(_, let error): long(error.reason)
            default: false
            }
        }
    }

    /// Every accessor a server or client reads a message through.
    static func read(_ message: STUNMessage) {
        _ = message.type.method
        _ = message.type.messageClass
        for address in [message.mappedAddress, message.xorMappedAddress, message.alternateServer] {
            _ = address?.description
        }
        for address in message.xorPeerAddresses + message.xorRelayedAddresses {
            _ = address.description
        }
        _ = (message.xorPeerAddress, message.xorRelayedAddress, message.userhash)
        for text in [message.username, message.realm, message.nonce, message.software] {
            guard let text else { continue }
            _ = STUNCredentials.opaqueString(text)
            _ = RESTCredentials.expiry(ofUsername: text)
        }
        if let username = message.username, let realm = message.realm {
            _ = STUNCredentials.longTermKeyIfValid(
                username: username, realm: realm, password: "password", algorithm: message.passwordAlgorithm ?? .md5)
            _ = STUNCredentials.userhash(username: username, realm: realm)
        }
        _ = (message.messageIntegrity, message.messageIntegritySHA256, message.fingerprint)
        _ = (message.errorCode, message.unknownAttributes, message.passwordAlgorithms)
        _ = (message.channelNumber, message.lifetime, message.data, message.requestedTransport)
        _ = (message.requestedAddressFamily, message.additionalAddressFamily, message.addressErrorCodes)
        _ = (message.evenPort, message.dontFragment, message.reservationToken)
        _ = (message.priority, message.useCandidate, message.iceControlled, message.iceControlling)
    }
}

// MARK: - Framing

/// STUN and ChannelData over a stream (RFC 8656 §12.4, RFC 8489 §6.2.2), framed as stagedoor-turn's
/// TCP framer does (Sources/TURNService/TURNEndpoint.swift, `StreamFramer`): ChannelData is padded to a
/// multiple of 4 on streams, STUN is 20 bytes plus its length field, anything else ends the stream.
enum Framing {
    static func frames(_ bytes: [UInt8]) -> [ArraySlice<UInt8>] {
        var frames: [ArraySlice<UInt8>] = []
        var start = 0
        while bytes.count - start >= 4 {
            let first = bytes[start]
            let length = Int(bytes[start + 2]) << 8 | Int(bytes[start + 3])
            let keep: Int
            let total: Int
            if ChannelData.isChannelData(firstByte: first) {
                keep = ChannelData.headerLength + length
                total = keep + ChannelData.streamPadding(forLength: length)
                require(total % 4 == 0, "ChannelData over a stream ends on a multiple of 4")
            } else if let stun = STUNCodec.messageLength(header: bytes[start...]) {
                keep = stun
                total = stun
            } else {
                break
            }
            guard bytes.count - start >= total else { break }
            frames.append(bytes[start..<(start + keep)])
            start += total
        }
        return frames
    }
}

// MARK: - The TURN server

/// A relay provider without sockets: loopback ports (127.0.0.1 and ::1) from 50000 upward. Both
/// families are served, so inputs reach IPv6 and dual allocations (RFC 8656 §7.2 step 9).
struct FuzzRelays: RelayAddressProvider {
    var nextPort: UInt16 = 50_000
    var opened: [TransportAddress] = []

    func serves(_ family: TransportAddress.Family) -> Bool { true }

    mutating func open(family: TransportAddress.Family, evenPort: Bool, reserveNext: Bool)
        -> (relayed: TransportAddress, reserved: TransportAddress?)?
    {
        guard nextPort < 60_000 else { return nil }
        if evenPort || reserveNext, !nextPort.isMultiple(of: 2) { nextPort += 1 }
        let relayed = Self.loopback(family, port: nextPort)
        nextPort += 1
        opened.append(relayed)
        guard reserveNext else { return (relayed, nil) }
        let reserved = Self.loopback(family, port: nextPort)
        nextPort += 1
        opened.append(reserved)
        return (relayed, reserved)
    }

    static func loopback(_ family: TransportAddress.Family, port: UInt16) -> TransportAddress {
        switch family {
        case .ipv4: TransportAddress(ipv4: (127, 0, 0, 1), port: port)
        case .ipv6: TransportAddress(family: .ipv6, host: IPHost([UInt8](repeating: 0, count: 15) + [1]), port: port)
        }
    }

    mutating func close(_ relayed: TransportAddress) {}
}

/// One `AllocationServer` per input, driven as stagedoor-turn's endpoint drives it
/// (Sources/TURNService/TURNEndpoint.swift) from fixed 5-tuples on a fixed clock.
///
/// A fuzzer cannot forge an HMAC, so every request that carries MESSAGE-INTEGRITY(-SHA256) and a known
/// USERNAME is also sent re-signed: REALM and NONCE replaced by valid ones, integrity and fingerprint
/// recomputed with that user's key. That lets inputs reach Allocate, Refresh, CreatePermission and
/// ChannelBind past authentication, and then ChannelData and Send indications to live allocations.
struct ServerSession {
    static let realm = "fuzz.example"
    static let restSecret = "fuzz-rest-secret"
    static let nonces = NonceIssuer(key: Array(0..<32), lifetimeSeconds: 600)
    static let base = MonotonicTime(nanoseconds: 50_000 * 1_000_000_000)
    static let now = Moment(monotonic: base, unixSeconds: 1_700_000_000)
    static let serverAddress = TransportAddress(ipv4: (192, 0, 2, 1), port: 3478)
    static let udp = FiveTuple(
        client: TransportAddress(ipv4: (198, 51, 100, 7), port: 40_000), server: serverAddress, transport: .udp)
    static let tcp = FiveTuple(
        client: TransportAddress(ipv4: (198, 51, 100, 7), port: 40_001), server: serverAddress, transport: .tcp)
    static let peer = TransportAddress(ipv4: (1, 1, 1, 1), port: 5000)

    static let settings: AllocationSettings = {
        var settings = AllocationSettings(realm: realm, restSecrets: [restSecret])
        settings.addUser("alice", password: "alice-password")
        settings.software = "stagedoor-fuzz"
        // Small limits, so that short inputs reach the rate, quota and bandwidth refusals too.
        settings.unauthenticatedRequestsPerSecond = 8
        settings.maximumPermissionsPerAllocation = 4
        settings.bandwidthPerAllocation = 4_000
        return settings
    }()

    var server = AllocationServer(
        settings: settings, policy: PeerPolicy(serverAddresses: [serverAddress]), nonces: nonces,
        relays: FuzzRelays())

    /// The whole input as one UDP datagram from a client.
    mutating func datagram(_ bytes: [UInt8]) {
        client(bytes[...], from: Self.udp)
    }

    /// One frame cut from the TCP stream.
    mutating func streamFrame(_ frame: ArraySlice<UInt8>) {
        client(frame, from: Self.tcp)
    }

    /// As `TURNEndpoint.clientMessage`: ChannelData by its first byte (RFC 8656 §12.5), else STUN.
    private mutating func client(_ bytes: ArraySlice<UInt8>, from tuple: FiveTuple) {
        guard let first = bytes.first else { return }
        if ChannelData.isChannelData(firstByte: first) {
            let start = bytes.startIndex
            guard bytes.count >= ChannelData.headerLength,
                let header = ChannelData.parseHeader(first, bytes[start + 1], bytes[start + 2], bytes[start + 3]),
                header.length <= bytes.count - ChannelData.headerLength
            else { return }
            require(ChannelData.numbers.contains(header.channel), "a parsed channel number is in range")
            if let route = server.routeChannelData(
                channel: header.channel, length: header.length, from: tuple, now: Self.now.monotonic)
            {
                require(server.allocation(for: tuple) != nil, "ChannelData is routed for an allocation only")
                _ = route
            }
            return
        }
        handle(bytes, from: tuple, key: nil)
        if let parsed = try? STUNCodec.decode(bytes), let (signed, key) = resigned(parsed, for: tuple) {
            handle(signed[...], from: tuple, key: key)
        }
    }

    private mutating func handle(_ bytes: ArraySlice<UInt8>, from tuple: FiveTuple, key: [UInt8]?) {
        switch server.handle(bytes, from: tuple, now: Self.now) {
        case .respond(let response):
            // The server's own answers are always well-formed responses, signed with the key the
            // request was authenticated with when they carry integrity.
            guard let parsed = try? STUNCodec.decode(response) else { fatalError("invariant broken: response decodes") }
            let messageClass = parsed.message.type.messageClass
            require(messageClass == .successResponse || messageClass == .errorResponse, "a response is a response")
            require(parsed.fingerprintValid != false, "a response's FINGERPRINT is right")
            if let key, parsed.hasMessageIntegrity {
                require(parsed.verifyMessageIntegrity(key: key), "a response is signed with the request's key")
            }
        case .relay(_, _, let payload):
            require(payload.count <= bytes.count, "a relayed payload comes from the request")
        case .ignore:
            break
        }
        _ = server.drainEvents()
    }

    /// `parsed` with valid REALM, NONCE, integrity and fingerprint, when it is a request with integrity from a
    /// user this server knows (a static user, or a REST username whose expiry has not passed).
    private func resigned(_ parsed: ParsedSTUNMessage, for tuple: FiveTuple) -> ([UInt8], [UInt8])? {
        guard parsed.message.type.messageClass == .request,
            parsed.hasMessageIntegrity || parsed.hasMessageIntegritySHA256,
            let username = parsed.message.username
        else { return nil }
        let key: [UInt8]
        if let staticKey = Self.settings.users[username] {
            key = staticKey
        } else if let expiry = RESTCredentials.expiry(ofUsername: username), expiry > Self.now.unixSeconds {
            let password = RESTCredentials.password(username: username, secret: Self.restSecret)
            key = STUNCredentials.longTermKey(username: username, realm: Self.realm, password: password)
        } else {
            return nil
        }
        var message = parsed.message
        let replaced: Set<UInt16> = [
            STUNAttributeType.realm, STUNAttributeType.nonce, STUNAttributeType.messageIntegrity,
            STUNAttributeType.messageIntegritySHA256, STUNAttributeType.fingerprint,
        ]
        message.attributes.removeAll { replaced.contains($0.type) }
        message.attributes += [
            .realm(Self.realm), .nonce(Self.nonces.issue(for: tuple.client, now: Self.now.unixSeconds)),
        ]
        let integrity = STUNIntegrity(
            key: key, sha1: parsed.hasMessageIntegrity, sha256: parsed.hasMessageIntegritySHA256)
        return (message.encode(integrity: integrity, fingerprint: parsed.fingerprintValid != nil), key)
    }

    /// A datagram from a peer to every relayed address, then the expiry sweep and the TCP client leaving.
    mutating func finish() {
        for relayed in server.relays.opened {
            switch server.routePeerData(to: relayed, from: Self.peer, length: 100, now: Self.now.monotonic) {
            case .dataIndication(_, let peer):
                let indication = server.dataIndication(from: peer, payload: [1, 2, 3])
                guard let parsed = try? STUNCodec.decode(indication) else {
                    fatalError("invariant broken: a Data indication decodes")
                }
                require(parsed.message.data == [1, 2, 3], "a Data indication carries its payload")
            case .channel(let number, _):
                require(ChannelData.numbers.contains(number), "a bound channel is in range")
            case .drop:
                break
            }
        }
        _ = server.connectionClosed(Self.tcp)
        _ = server.expire(now: Self.now.monotonic + .seconds(4_000))
        require(server.allocationCount == 0, "every allocation has expired after the longest lifetime")
        _ = server.drainEvents()
    }
}
