import NIOCore
import Testing

@testable import STUN

@Suite("Attribute encoding and decoding")
struct AttributeRoundTripTests {
    static let ipv4 = TransportAddress(ipv4: (203, 0, 113, 7), port: 3478)
    static let ipv6 = TransportAddress(text: "2001:db8::dead:beef", port: 49152)!

    /// One value of every case of `STUNAttribute`, and then some.
    static let everyCase: [STUNAttribute] = [
        .mappedAddress(ipv4), .mappedAddress(ipv6),
        .xorMappedAddress(ipv4), .xorMappedAddress(ipv6),
        .xorPeerAddress(ipv4), .xorPeerAddress(ipv6),
        .xorRelayedAddress(ipv4), .xorRelayedAddress(ipv6),
        .alternateServer(ipv4), .alternateServer(ipv6),
        .username("alice"), .username("マトリックス"), .username(""),
        .userhash(Array(0..<32)),
        .realm("example.org"), .nonce("obMatJos2AAACf//499k954d6OL34oL9FSTvy64sA"), .software("Stagedoor 1.0 🎭"),
        .messageIntegrity(Array(100..<120)),
        .messageIntegritySHA256(Array(0..<32)), .messageIntegritySHA256(Array(0..<16)),
        .fingerprint(0xDEAD_BEEF),
        .errorCode(.staleNonce), .errorCode(STUNErrorCode(code: 699, reason: "")),
        .errorCode(STUNErrorCode(code: 300, reason: "Try Alternate")),
        .unknownAttributes([0x0003]), .unknownAttributes([0x0003, 0x0004]), .unknownAttributes([]),
        .passwordAlgorithms([.md5, .sha256, .other(0x1234)]), .passwordAlgorithms([]),
        .passwordAlgorithm(.sha256), .passwordAlgorithm(.md5),
        .channelNumber(0x4000), .channelNumber(0x4FFF),
        .lifetime(600), .lifetime(.max),
        .data([]), .data([1]), .data([1, 2, 3, 4, 5]), .data(Array(repeating: 0xAB, count: 1200)),
        .requestedTransport(17), .requestedTransport(6),
        .requestedAddressFamily(.ipv4), .requestedAddressFamily(.ipv6),
        .additionalAddressFamily(.ipv6),
        .addressErrorCode(family: .ipv6, error: .addressFamilyNotSupported),
        .addressErrorCode(family: .ipv4, error: .insufficientCapacity),
        .evenPort(reserveNext: true), .evenPort(reserveNext: false),
        .dontFragment,
        .reservationToken([1, 2, 3, 4, 5, 6, 7, 8]),
        .priority(0x6E00_01FF), .useCandidate,
        .iceControlled(0x932F_F9B1_5126_3B36), .iceControlling(.max),
        .unknown(type: 0x8003, value: Array("alt.example".utf8)),
        .unknown(type: 0xC001, value: []),
    ]

    @Test("Every attribute case round-trips on its own", arguments: everyCase)
    func roundTrip(attribute: STUNAttribute) throws {
        let message = STUNMessage(
            type: STUNMessageType(method: .allocate, messageClass: .successResponse),
            transactionID: .fixed(RFC5769.transactionID), attributes: [attribute])
        let bytes = message.encode()
        #expect(bytes.count % 4 == 0)
        let parsed = try STUNCodec.decode(bytes)
        #expect(parsed.message == message)
        #expect(parsed.message.attributes.first?.type == attribute.type)
        #expect(parsed.unknownComprehensionRequired.isEmpty)
    }

    @Test("All attributes together round-trip, in order, through [UInt8] and ByteBuffer")
    func allTogether() throws {
        // Integrity and fingerprint attributes end the message, so leave them to the encoder here.
        let attributes = Self.everyCase.filter {
            ![
                STUNAttributeType.messageIntegrity, STUNAttributeType.messageIntegritySHA256,
                STUNAttributeType.fingerprint,
            ].contains($0.type)
        }
        let message = STUNMessage(method: .allocate, messageClass: .request, attributes: attributes)
        let bytes = message.encode()
        #expect(try STUNCodec.decode(bytes).message == message)

        var buffer = ByteBuffer()
        message.encode(into: &buffer)
        #expect(Array(buffer.readableBytesView) == bytes)
        #expect(try STUNCodec.decode(buffer).message == message)
        let fromPointer = try bytes.withUnsafeBytes { pointer throws(STUNDecodingError) in
            try STUNCodec.decode(pointer)
        }
        #expect(fromPointer.message == message)
    }

    @Test("Padding is zero and lengths are unpadded (RFC 8489 §14)")
    func padding() {
        let message = STUNMessage(
            type: .bindingRequest, transactionID: .fixed(RFC5769.transactionID), attributes: [.username("abcde")])
        #expect(message.encode() == stunBytes(body: [0x00, 0x06, 0x00, 0x05] + Array("abcde".utf8) + [0, 0, 0]))
    }

    @Test("XOR-MAPPED-ADDRESS is XOR-ed with the cookie, and with the transaction ID for IPv6 (RFC 8489 §14.2)")
    func xorEncoding() {
        let v4 = STUNMessage(
            type: .bindingSuccess, transactionID: .fixed(RFC5769.transactionID),
            attributes: [.xorMappedAddress(TransportAddress(ipv4: (192, 0, 2, 1), port: 32853))])
        // As in RFC 5769 §2.2.
        #expect(v4.encode().suffix(12) == [0x00, 0x20, 0x00, 0x08, 0x00, 0x01, 0xa1, 0x47, 0xe1, 0x12, 0xa6, 0x43])
        let v6 = STUNMessage(
            type: .bindingSuccess, transactionID: .fixed(RFC5769.transactionID),
            attributes: [
                .xorMappedAddress(TransportAddress(text: "2001:db8:1234:5678:11:2233:4455:6677", port: 32853)!)
            ])
        // As in RFC 5769 §2.3.
        #expect(
            v6.encode().suffix(24) == [
                0x00, 0x20, 0x00, 0x14, 0x00, 0x02, 0xa1, 0x47, 0x01, 0x13, 0xa9, 0xfa,
                0xa5, 0xd3, 0xf1, 0x79, 0xbc, 0x25, 0xf4, 0xb5, 0xbe, 0xd2, 0xb9, 0xd9,
            ])
        let mapped = STUNMessage(
            type: .bindingSuccess, transactionID: .fixed(RFC5769.transactionID),
            attributes: [.mappedAddress(TransportAddress(ipv4: (192, 0, 2, 1), port: 32853))])
        #expect(mapped.encode().suffix(8) == [0x00, 0x01, 0x80, 0x55, 192, 0, 2, 1])
        let address = TransportAddress(ipv4: (10, 1, 2, 3), port: 5000)
        #expect(
            address.xored(transactionID: .fixed(RFC5769.transactionID)).xored(
                transactionID: .fixed(RFC5769.transactionID)) == address)
    }

    @Test("ERROR-CODE splits class and number (RFC 8489 §14.8)")
    func errorCodeEncoding() throws {
        let message = STUNMessage(
            type: .bindingError, transactionID: .fixed(RFC5769.transactionID), attributes: [.errorCode(.staleNonce)])
        let expected = attributeBytes(type: 0x0009, value: [0x00, 0x00, 0x04, 38] + Array("Stale Nonce".utf8))
        #expect(message.encode() == stunBytes(type: 0x0111, body: expected))
        #expect(try STUNCodec.decode(message.encode()).message.errorCode == .staleNonce)
        let address = STUNMessage(
            type: .bindingError, transactionID: .fixed(RFC5769.transactionID),
            attributes: [.addressErrorCode(family: .ipv6, error: .addressFamilyNotSupported)])
        #expect(
            Array(address.encode()[20..<28]) == [0x80, 0x01, 0x00, 0x20, 0x02, 0x00, 0x04, 40])
    }

    @Test("ADDITIONAL-ADDRESS-FAMILY under the draft number coturn sends (0x8032) reads as RFC 8656's 0x8000")
    func draftAdditionalAddressFamily() throws {
        let body =
            attributeBytes(type: 0x0019, value: [17, 0, 0, 0])
            + attributeBytes(type: 0x8032, value: [0x02, 0, 0, 0])
        let parsed = try STUNCodec.decode(stunBytes(type: 0x0003, body: body))
        #expect(parsed.message.additionalAddressFamily == .ipv6)
        // Written back under the RFC's number.
        #expect(Array(parsed.message.encode()[28..<30]) == [0x80, 0x00])
    }

    @Test("Error code constants carry the RFC reason phrases")
    func errorCodeConstants() {
        let expected: [(STUNErrorCode, Int, String)] = [
            (.tryAlternate, 300, "Try Alternate"), (.badRequest, 400, "Bad Request"),
            (.unauthorized, 401, "Unauthenticated"), (.forbidden, 403, "Forbidden"),
            (.unknownAttribute, 420, "Unknown Attribute"), (.allocationMismatch, 437, "Allocation Mismatch"),
            (.staleNonce, 438, "Stale Nonce"), (.addressFamilyNotSupported, 440, "Address Family not Supported"),
            (.wrongCredentials, 441, "Wrong Credentials"),
            (.unsupportedTransportProtocol, 442, "Unsupported Transport Protocol"),
            (.peerAddressFamilyMismatch, 443, "Peer Address Family Mismatch"),
            (.allocationQuotaReached, 486, "Allocation Quota Reached"), (.serverError, 500, "Server Error"),
            (.insufficientCapacity, 508, "Insufficient Capacity"),
        ]
        for (error, code, reason) in expected {
            #expect(error.code == code)
            #expect(error.reason == reason)
            #expect(STUNErrorCode(code: code) == error)
        }
    }

    @Test("The other fixed layouts (RFC 8656 §18, RFC 8445 §7.1)")
    func fixedLayouts() {
        func body(_ attribute: STUNAttribute) -> [UInt8] {
            Array(
                STUNMessage(
                    type: .bindingRequest, transactionID: .fixed(RFC5769.transactionID),
                    attributes: [attribute]
                ).encode().dropFirst(20))
        }
        #expect(body(.channelNumber(0x4001)) == [0x00, 0x0C, 0x00, 0x04, 0x40, 0x01, 0x00, 0x00])
        #expect(body(.requestedTransport(17)) == [0x00, 0x19, 0x00, 0x04, 17, 0, 0, 0])
        #expect(body(.requestedAddressFamily(.ipv6)) == [0x00, 0x17, 0x00, 0x04, 0x02, 0, 0, 0])
        #expect(body(.evenPort(reserveNext: true)) == [0x00, 0x18, 0x00, 0x01, 0x80, 0, 0, 0])
        #expect(body(.dontFragment) == [0x00, 0x1A, 0x00, 0x00])
        #expect(body(.useCandidate) == [0x00, 0x25, 0x00, 0x00])
        #expect(body(.lifetime(600)) == [0x00, 0x0D, 0x00, 0x04, 0, 0, 0x02, 0x58])
        #expect(
            body(.passwordAlgorithms([.md5, .sha256]))
                == [0x80, 0x02, 0x00, 0x08, 0x00, 0x01, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00])
        #expect(body(.unknownAttributes([0x0003])) == [0x00, 0x0A, 0x00, 0x02, 0x00, 0x03, 0x00, 0x00])
    }

    @Test("PASSWORD-ALGORITHMS with parameters decodes, skipping them")
    func passwordAlgorithmParameters() throws {
        let value: [UInt8] = [0x00, 0x07, 0x00, 0x03, 0xAA, 0xBB, 0xCC, 0x00, 0x00, 0x02, 0x00, 0x00]
        let parsed = try STUNCodec.decode(stunBytes(body: attributeBytes(type: 0x8002, value: value)))
        #expect(parsed.message.passwordAlgorithms == [.other(7), .sha256])
        #expect(PasswordAlgorithm.other(1) == .md5)
        #expect(PasswordAlgorithm(rawValue: 2) == .sha256)
    }

    @Test("Text longer than the RFC allows is cut on encode at a character boundary")
    func textLimits() throws {
        let long = String(repeating: "é", count: 200)
        let message = STUNMessage(
            type: .bindingRequest, transactionID: .random(),
            attributes: [
                .software(long), .realm(String(repeating: "a", count: 300)),
                .errorCode(
                    STUNErrorCode(code: 400, reason: String(repeating: "🎭", count: 130))),
                .username(String(repeating: "ü", count: 400)),
            ])
        let decoded = try STUNCodec.decode(message.encode()).message
        #expect(decoded.software == String(repeating: "é", count: 127))
        #expect(decoded.realm == String(repeating: "a", count: 127))
        #expect(decoded.errorCode?.reason == String(repeating: "🎭", count: 127))
        #expect(decoded.username == String(repeating: "ü", count: 254))
        #expect(decoded.username?.utf8.count == 508)
    }

    @Test("An address whose bytes do not match its family still encodes well-formed")
    func inconsistentAddress() throws {
        var address = TransportAddress(ipv4: (1, 2, 3, 4), port: 9)
        address.address = [1, 2, 3, 4, 5, 6]
        var v6 = Self.ipv6
        v6.address = [1]
        let message = STUNMessage(
            type: .bindingSuccess, transactionID: .random(),
            attributes: [.xorMappedAddress(address), .mappedAddress(v6)])
        let decoded = try STUNCodec.decode(message.encode()).message
        #expect(decoded.xorMappedAddress == TransportAddress(ipv4: (1, 2, 3, 4), port: 9))
        #expect(decoded.mappedAddress?.address == [1] + Array(repeating: 0, count: 15))
    }

    @Test("Getters return the first attribute of each kind; XOR-PEER-ADDRESS returns all")
    func getters() {
        let peers = [Self.ipv4, Self.ipv6, TransportAddress(ipv4: (8, 8, 8, 8), port: 53)]
        let message = STUNMessage(
            type: STUNMessageType(method: .createPermission, messageClass: .request), transactionID: .random(),
            attributes: peers.map { .xorPeerAddress($0) } + [
                .lifetime(1), .lifetime(2), .channelNumber(0x4001), .data([9]), .requestedTransport(17),
                .requestedAddressFamily(.ipv6), .errorCode(.forbidden), .xorRelayedAddress(Self.ipv4),
                .xorRelayedAddress(Self.ipv6), .nonce("n"), .realm("r"), .username("u"), .evenPort(reserveNext: true),
                .dontFragment, .useCandidate, .reservationToken([0, 0, 0, 0, 0, 0, 0, 1]),
            ])
        #expect(message.xorPeerAddresses == peers)
        #expect(message.xorPeerAddress == Self.ipv4)
        #expect(message.lifetime == 1)
        #expect(message.channelNumber == 0x4001)
        #expect(message.data == [9])
        #expect(message.requestedTransport == 17)
        #expect(message.requestedAddressFamily == .ipv6)
        #expect(message.errorCode == .forbidden)
        #expect(message.xorRelayedAddress == Self.ipv4)
        #expect(message.xorRelayedAddresses == [Self.ipv4, Self.ipv6])
        #expect(message.nonce == "n" && message.realm == "r" && message.username == "u")
        #expect(message.evenPort == true && message.dontFragment && message.useCandidate)
        #expect(message.reservationToken == [0, 0, 0, 0, 0, 0, 0, 1])
        #expect(message.xorMappedAddress == nil && message.messageIntegrity == nil && message.software == nil)
        #expect(message.contains(attributeType: STUNAttributeType.lifetime))
        #expect(message.attribute(ofType: STUNAttributeType.lifetime) == .lifetime(1))
    }

    @Test("An attribute too big for the 16-bit length field is left out")
    func oversizedAttribute() throws {
        let message = STUNMessage(
            type: STUNMessageType(method: .send, messageClass: .indication), transactionID: .random(),
            attributes: [.xorPeerAddress(Self.ipv4), .data(Array(repeating: 1, count: 70_000)), .lifetime(5)])
        let bytes = message.encode(
            integrity: STUNIntegrity(key: [1, 2, 3], sha1: true, sha256: true), fingerprint: true)
        let parsed = try STUNCodec.decode(bytes)
        #expect(parsed.message.data == nil)
        #expect(parsed.message.lifetime == 5)
        #expect(parsed.verifyMessageIntegrity(key: [1, 2, 3]))
        #expect(parsed.verifyMessageIntegritySHA256(key: [1, 2, 3]))
        #expect(parsed.fingerprintValid == true)

        let justFits = STUNMessage(
            type: STUNMessageType(method: .send, messageClass: .indication), transactionID: .random(),
            attributes: [.data(Array(repeating: 2, count: 0xFFFC - 4 - 8))])
        let fits = justFits.encode(fingerprint: true)
        #expect(fits.count == 20 + 0xFFFC)
        #expect(try STUNCodec.decode(fits).message.data?.count == 0xFFFC - 12)
    }
}
