import NIOCore
import Testing

@testable import STUN

/// RFC 5769 §2: decode each vector byte-exactly, verify MESSAGE-INTEGRITY and FINGERPRINT, check every
/// attribute, and re-encode.
@Suite("RFC 5769 test vectors")
struct RFC5769Tests {
    let shortTermKey = STUNCredentials.shortTermKey(password: RFC5769.shortTermPassword)

    /// Encodes with the padding byte the vectors use (spaces for §2.1-§2.3).
    func encode(
        _ message: STUNMessage, integrity: STUNIntegrity?, fingerprint: Bool, paddingByte: UInt8
    ) -> [UInt8] {
        var buffer = ByteBuffer()
        message.encode(into: &buffer, integrity: integrity, fingerprint: fingerprint, paddingByte: paddingByte)
        return Array(buffer.readableBytesView)
    }

    @Test("§2.1 sample request decodes")
    func sampleRequestDecodes() throws {
        let parsed = try STUNCodec.decode(RFC5769.sampleRequest)
        let message = parsed.message
        #expect(message.type == STUNMessageType(method: .binding, messageClass: .request))
        #expect(message.type.rawValue == 0x0001)
        #expect(message.transactionID.bytes == RFC5769.transactionID)
        #expect(
            message.attributes == [
                .software("STUN test client"),
                .priority(0x6e00_01ff),
                .iceControlled(0x932f_f9b1_5126_3b36),
                .username("evtj:h6vY"),
                .messageIntegrity([
                    0x9a, 0xea, 0xa7, 0x0c, 0xbf, 0xd8, 0xcb, 0x56, 0x78, 0x1e,
                    0xf2, 0xb5, 0xb2, 0xd3, 0xf2, 0x49, 0xc1, 0xb5, 0x71, 0xa2,
                ]),
                .fingerprint(0xe57a_3bcf),
            ])
        #expect(message.software == "STUN test client")
        #expect(message.priority == 0x6e00_01ff)
        #expect(message.iceControlled == 0x932f_f9b1_5126_3b36)
        #expect(message.username == "evtj:h6vY")
        #expect(parsed.unknownComprehensionRequired.isEmpty)
        #expect(parsed.hasMessageIntegrity)
        #expect(!parsed.hasMessageIntegritySHA256)
        #expect(parsed.verifyMessageIntegrity(key: shortTermKey))
        #expect(!parsed.verifyMessageIntegritySHA256(key: shortTermKey))
        #expect(parsed.fingerprintValid == true)
        #expect(parsed.rawBytes == RFC5769.sampleRequest)
    }

    @Test("§2.2 IPv4 response decodes")
    func ipv4ResponseDecodes() throws {
        let parsed = try STUNCodec.decode(RFC5769.ipv4Response)
        let message = parsed.message
        #expect(message.type == .bindingSuccess)
        #expect(message.type.rawValue == 0x0101)
        #expect(message.transactionID.bytes == RFC5769.transactionID)
        #expect(message.software == "test vector")
        #expect(message.xorMappedAddress == TransportAddress(ipv4: (192, 0, 2, 1), port: 32853))
        #expect(message.attributes.count == 4)
        #expect(message.fingerprint == 0xc07d_4c96)
        #expect(parsed.verifyMessageIntegrity(key: shortTermKey))
        #expect(parsed.fingerprintValid == true)
    }

    @Test("§2.3 IPv6 response decodes")
    func ipv6ResponseDecodes() throws {
        let parsed = try STUNCodec.decode(RFC5769.ipv6Response)
        let message = parsed.message
        #expect(message.type == .bindingSuccess)
        #expect(message.software == "test vector")
        let expected = try #require(TransportAddress(text: "2001:db8:1234:5678:11:2233:4455:6677", port: 32853))
        #expect(message.xorMappedAddress == expected)
        #expect(message.xorMappedAddress?.family == .ipv6)
        #expect(message.attributes.count == 4)
        #expect(parsed.verifyMessageIntegrity(key: shortTermKey))
        #expect(parsed.fingerprintValid == true)
    }

    @Test("§2.4 long-term request decodes and verifies with MD5(username:realm:password)")
    func longTermRequestDecodes() throws {
        let parsed = try STUNCodec.decode(RFC5769.longTermRequest)
        let message = parsed.message
        #expect(message.type == .bindingRequest)
        #expect(message.transactionID.bytes == RFC5769.longTermTransactionID)
        #expect(message.username == RFC5769.longTermUsername)
        #expect(message.username == "マトリックス")
        #expect(message.nonce == RFC5769.longTermNonce)
        #expect(message.realm == RFC5769.longTermRealm)
        #expect(message.messageIntegrity?.count == 20)
        #expect(message.fingerprint == nil)
        #expect(parsed.fingerprintValid == nil)
        let key = STUNCredentials.longTermKey(
            username: RFC5769.longTermUsername, realm: RFC5769.longTermRealm, password: RFC5769.longTermPassword)
        #expect(key.count == 16)
        #expect(parsed.verifyMessageIntegrity(key: key))
        let wrongKey = STUNCredentials.longTermKey(
            username: RFC5769.longTermUsername, realm: RFC5769.longTermRealm, password: "TheMatrix")
        #expect(!parsed.verifyMessageIntegrity(key: wrongKey))
    }

    @Test("Re-encoding each vector verbatim (MESSAGE-INTEGRITY and FINGERPRINT copied) gives the same bytes")
    func verbatimReencoding() throws {
        for (name, bytes) in RFC5769.all {
            let parsed = try STUNCodec.decode(bytes)
            let paddingByte: UInt8 = bytes == RFC5769.longTermRequest ? 0x00 : 0x20
            let encoded = encode(parsed.message, integrity: nil, fingerprint: false, paddingByte: paddingByte)
            #expect(encoded == bytes, "\(name)")
        }
    }

    @Test("Recomputing MESSAGE-INTEGRITY and FINGERPRINT reproduces the vectors byte for byte")
    func recomputedReencoding() throws {
        let cases: [(bytes: [UInt8], key: [UInt8], fingerprint: Bool, paddingByte: UInt8)] = [
            (RFC5769.sampleRequest, shortTermKey, true, 0x20),
            (RFC5769.ipv4Response, shortTermKey, true, 0x20),
            (RFC5769.ipv6Response, shortTermKey, true, 0x20),
            (
                RFC5769.longTermRequest,
                STUNCredentials.longTermKey(
                    username: RFC5769.longTermUsername, realm: RFC5769.longTermRealm,
                    password: RFC5769.longTermPassword),
                false, 0x00
            ),
        ]
        for testCase in cases {
            var message = try STUNCodec.decode(testCase.bytes).message
            // Drop the carried values so that the encoder must compute them itself.
            message.attributes.removeAll {
                $0.type == STUNAttributeType.messageIntegrity || $0.type == STUNAttributeType.fingerprint
            }
            let encoded = encode(
                message, integrity: STUNIntegrity(key: testCase.key), fingerprint: testCase.fingerprint,
                paddingByte: testCase.paddingByte)
            #expect(encoded == testCase.bytes)
        }
    }

    @Test("§2.4 re-encodes byte-exactly through the public API (it pads with zeros)")
    func longTermPublicEncode() throws {
        let message = STUNMessage(
            type: .bindingRequest, transactionID: .fixed(RFC5769.longTermTransactionID),
            attributes: [
                .username(RFC5769.longTermUsername), .nonce(RFC5769.longTermNonce), .realm(RFC5769.longTermRealm),
            ])
        let integrity = STUNIntegrity.longTerm(
            username: RFC5769.longTermUsername, realm: RFC5769.longTermRealm, password: RFC5769.longTermPassword)
        #expect(message.encode(integrity: integrity) == RFC5769.longTermRequest)
        var buffer = ByteBuffer(bytes: [0xAA, 0xBB])
        buffer.moveReaderIndex(forwardBy: 1)
        message.encode(into: &buffer, integrity: integrity)
        #expect(Array(buffer.readableBytesView) == [0xBB] + RFC5769.longTermRequest)
    }

    @Test("The vectors re-encoded with zero padding still verify and decode to the same attributes")
    func zeroPaddedReencoding() throws {
        for (name, bytes) in RFC5769.all.prefix(3) {
            let original = try STUNCodec.decode(bytes).message
            let encoded = original.encode(integrity: STUNIntegrity(key: shortTermKey), fingerprint: true)
            #expect(encoded.count == bytes.count, "\(name)")
            let parsed = try STUNCodec.decode(encoded)
            #expect(parsed.verifyMessageIntegrity(key: shortTermKey), "\(name)")
            #expect(parsed.fingerprintValid == true, "\(name)")
            let strip: (STUNAttribute) -> Bool = {
                $0.type == STUNAttributeType.messageIntegrity || $0.type == STUNAttributeType.fingerprint
            }
            #expect(
                parsed.message.attributes.filter { !strip($0) } == original.attributes.filter { !strip($0) }, "\(name)")
        }
    }

    @Test("RFC 8489 Appendix B.1 USERHASH of the §2.4 username and realm")
    func userhashVector() {
        let expected: [UInt8] = [
            0x4a, 0x3c, 0xf3, 0x8f, 0xef, 0x69, 0x92, 0xbd, 0xa9, 0x52, 0xc6, 0x78, 0x04, 0x17, 0xda, 0x0f,
            0x24, 0x81, 0x94, 0x15, 0x56, 0x9e, 0x60, 0xb2, 0x05, 0xc4, 0x6e, 0x41, 0x40, 0x7f, 0x17, 0x04,
        ]
        #expect(STUNCredentials.userhash(username: RFC5769.longTermUsername, realm: RFC5769.longTermRealm) == expected)
    }
}
