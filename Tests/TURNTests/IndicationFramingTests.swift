import STUN
import Testing

@testable import TURN

/// Send and Data indications read and written in place (RFC 8656 §11), checked against the
/// full STUN codec both ways.
@Suite struct IndicationFramingTests {
    static let peers = [testAddress("198.51.100.7", 40_000), testAddress("2001:db8::7", 3478)]
    static let lengths = [0, 1, 3, 4, 172, 1_200]

    static func payload(_ length: Int) -> [UInt8] { (0..<length).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ 1) } }

    @Test(arguments: peers, lengths)
    func aDataIndicationDecodesAsTheCodecWouldWriteIt(peer: TransportAddress, length: Int) throws {
        let payload = Self.payload(length)
        let prefixLength = IndicationFraming.dataIndicationPrefixLength(peer: peer)
        var wire = [UInt8](repeating: 0xEE, count: prefixLength)
        wire.withUnsafeMutableBytes { prefix in
            IndicationFraming.writeDataIndicationPrefix(
                peer: peer, payloadLength: length, transactionID: (0x0102_0304_0506_0708, 0x090A_0B0C), into: prefix)
        }
        wire += payload + [UInt8](repeating: 0, count: IndicationFraming.padding(length))

        let decoded = try STUNCodec.decode(wire).message
        #expect(decoded.type == STUNMessageType(method: .data, messageClass: .indication))
        #expect(decoded.xorPeerAddress == peer)
        #expect(decoded.data == payload)
        // What the codec itself writes for the same message, byte for byte.
        let expected = STUNMessage(
            type: decoded.type, transactionID: decoded.transactionID,
            attributes: [.xorPeerAddress(peer), .data(payload)]
        ).encode()
        #expect(wire == expected)
    }

    @Test(arguments: peers, lengths)
    func aPlainSendIndicationIsReadInPlace(peer: TransportAddress, length: Int) {
        let payload = Self.payload(length)
        let wire = STUNMessage(
            method: .send, messageClass: .indication, attributes: [.xorPeerAddress(peer), .data(payload)]
        ).encode()
        let read = wire.withUnsafeBytes { IndicationFraming.readSendIndication($0) }
        guard case .relay(let found, let range) = read else {
            Issue.record("read \(read)")
            return
        }
        #expect(found == peer)
        #expect(Array(wire[range]) == payload)
    }

    static func send(_ attributes: [STUNAttribute], fingerprint: Bool = false) -> IndicationFraming.SendIndication {
        let wire = STUNMessage(method: .send, messageClass: .indication, attributes: attributes)
            .encode(fingerprint: fingerprint)
        return wire.withUnsafeBytes { IndicationFraming.readSendIndication($0) }
    }

    @Test func whatTheRFCsDropIsDropped() {
        let peer = Self.peers[0]
        // DONT-FRAGMENT cannot be honoured (RFC 8656 §11.2); an unknown comprehension-required
        // attribute discards an indication (RFC 8489 §6.3.2); no peer or no data: nothing to send.
        #expect(Self.send([.xorPeerAddress(peer), .data([1]), .dontFragment]) == .drop)
        #expect(Self.send([.xorPeerAddress(peer), .data([1]), .unknown(type: 0x7FF0, value: [0, 0, 0, 0])]) == .drop)
        #expect(Self.send([.data([1])]) == .drop)
        #expect(Self.send([.xorPeerAddress(peer)]) == .drop)
        // A comprehension-optional unknown attribute is ignored.
        #expect(
            Self.send([.xorPeerAddress(peer), .unknown(type: 0xC0DE, value: [9]), .data([1, 2])]).isRelay)
    }

    @Test func otherShapesAreLeftToTheCodec() {
        let peer = Self.peers[0]
        #expect(Self.send([.xorPeerAddress(peer), .data([1])], fingerprint: true) == .other)
        let bytes = STUNMessage(
            method: .send, messageClass: .indication, attributes: [.xorPeerAddress(peer), .data([1])]
        )
        .encode()
        // Truncated: the STUN length no longer matches the datagram.
        #expect(Array(bytes.dropLast(4)).withUnsafeBytes { IndicationFraming.readSendIndication($0) } == .other)
        // A Binding request, a Data indication: not Send indications.
        let binding = STUNMessage(method: .binding, messageClass: .request, attributes: []).encode()
        #expect(binding.withUnsafeBytes { IndicationFraming.readSendIndication($0) } == .other)
        // An attribute running past the end.
        var broken = bytes
        broken[22] = 0x0F
        #expect(broken.withUnsafeBytes { IndicationFraming.readSendIndication($0) } == .other)
    }
}

extension IndicationFraming.SendIndication {
    var isRelay: Bool {
        if case .relay = self { return true }
        return false
    }
}
