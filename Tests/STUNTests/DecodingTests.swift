import Testing

@testable import STUN

@Suite("Decoding rules and malformed input (RFC 8489 §5, §14, §15)")
struct DecodingTests {
    func decodeError(_ bytes: [UInt8]) -> STUNDecodingError? {
        do {
            _ = try STUNCodec.decode(bytes)
            return nil
        } catch {
            return error
        }
    }

    @Test("Header errors")
    func headerErrors() {
        #expect(decodeError([]) == .tooShort)
        #expect(decodeError(Array(RFC5769.sampleRequest.prefix(19))) == .tooShort)
        var badCookie = RFC5769.ipv4Response
        badCookie[5] ^= 0xFF
        #expect(decodeError(badCookie) == .notSTUN)
        var topBits = RFC5769.ipv4Response
        topBits[0] |= 0x40
        #expect(decodeError(topBits) == .notSTUN)
        var oddLength = stunBytes(body: [0, 0, 0, 0])
        setUInt16(3, at: 2, in: &oddLength)
        #expect(decodeError(oddLength) == .lengthMismatch)
        #expect(decodeError(RFC5769.ipv4Response + [0, 0, 0, 0]) == .lengthMismatch)
        #expect(decodeError(stunBytes(body: [])) == nil)
    }

    @Test("An attribute running past the end is malformed")
    func attributeOverrun() {
        let body: [UInt8] = [0x00, 0x06, 0x00, 0x09, 0x61, 0x62, 0x63, 0x64]
        #expect(decodeError(stunBytes(body: body)) == .malformedAttribute(type: 0x0006))
    }

    static let malformedCases: [(type: UInt16, value: [UInt8])] = [
        (0x0020, [0x00, 0x01, 0x12, 0x34, 1, 2, 3]),  // IPv4 XOR-MAPPED-ADDRESS, 7 bytes
        (0x0020, [0x00, 0x01, 0x12, 0x34] + Array(repeating: 0, count: 16)),  // IPv4 family, IPv6 size
        (0x0001, [0x00, 0x02, 0x12, 0x34, 1, 2, 3, 4]),  // IPv6 family, IPv4 size
        (0x0012, [0x00, 0x03, 0x12, 0x34, 1, 2, 3, 4]),  // unknown family
        (0x0016, [0x00, 0x01]),
        (0x8023, []),
        (0x0008, Array(repeating: 0, count: 19)),  // MESSAGE-INTEGRITY must be 20 bytes
        (0x001C, Array(repeating: 0, count: 12)),  // MESSAGE-INTEGRITY-SHA256 at least 16
        (0x001C, Array(repeating: 0, count: 18)),  // ... and a multiple of 4
        (0x001C, Array(repeating: 0, count: 36)),  // ... and at most 32
        (0x8028, [0, 0, 0]),  // FINGERPRINT
        (0x0009, [0, 0, 0x07, 0x00]),  // error class 7
        (0x0009, [0, 0, 0x02, 0x00]),  // error class 2
        (0x0009, [0, 0, 0x04, 100]),  // number 100
        (0x0009, [0, 0, 0x04]),
        (0x000A, [0x00, 0x03, 0x00]),  // UNKNOWN-ATTRIBUTES odd length
        (0x000C, [0x40, 0x00]),
        (0x000D, [0, 0, 0, 0, 0]),
        (0x0019, [17]),
        (0x0017, [0x03, 0, 0, 0]),  // REQUESTED-ADDRESS-FAMILY neither IPv4 nor IPv6
        (0x8000, [0x00, 0, 0, 0]),
        (0x8001, [0x05, 0, 4, 40]),
        (0x0018, [0x80, 0]),  // EVEN-PORT is one byte
        (0x001A, [0]),  // DONT-FRAGMENT is empty
        (0x0025, [1, 2, 3, 4]),  // USE-CANDIDATE is empty
        (0x0022, [1, 2, 3]),
        (0x0024, [1, 2]),
        (0x8029, [1, 2, 3, 4]),
        (0x802A, Array(repeating: 0, count: 12)),
        (0x001E, Array(repeating: 0, count: 20)),  // USERHASH is 32 bytes
        (0x8002, [0x00, 0x01, 0x00, 0x08]),  // parameters run past the value
        (0x8002, [0x00, 0x01]),
        (0x001D, [0x00, 0x02, 0x00, 0x04, 1, 2]),
        (0x0006, [0xC3, 0x28]),  // invalid UTF-8 in USERNAME
        (0x0014, [0xFF]),  // ... REALM
        (0x0015, [0xE2, 0x82]),  // ... NONCE
        (0x0014, Array(repeating: 0x61, count: 764)),  // REALM over 763 bytes
        (0x8022, Array(repeating: 0x61, count: 764)),  // SOFTWARE over 763 bytes
        (0x0006, Array(repeating: 0x61, count: 513)),  // USERNAME over 512 bytes
    ]

    @Test("Values of the wrong size or content are malformed", arguments: malformedCases)
    func malformedValues(type: UInt16, value: [UInt8]) {
        let bytes = stunBytes(body: attributeBytes(type: type, value: value))
        #expect(decodeError(bytes) == .malformedAttribute(type: type))
    }

    @Test("Lenient text: invalid UTF-8 in SOFTWARE and reason phrases is repaired; 763 bytes are accepted")
    func lenientText() throws {
        let software = try STUNCodec.decode(stunBytes(body: attributeBytes(type: 0x8022, value: [0x61, 0xFF])))
        #expect(software.message.software == "a\u{FFFD}")
        let realm = try STUNCodec.decode(
            stunBytes(body: attributeBytes(type: 0x0014, value: Array(repeating: 0x61, count: 763))))
        #expect(realm.message.realm?.utf8.count == 763)
        let username = try STUNCodec.decode(
            stunBytes(body: attributeBytes(type: 0x0006, value: Array(repeating: 0x61, count: 512))))
        #expect(username.message.username?.count == 512)
    }

    @Test("Any padding bytes are accepted")
    func anyPadding() throws {
        let body =
            attributeBytes(type: 0x0006, value: Array("abc".utf8), padding: 0xFF)
            + attributeBytes(type: 0x0018, value: [0x80], padding: 0x7E)
        let parsed = try STUNCodec.decode(stunBytes(body: body))
        #expect(parsed.message.attributes == [.username("abc"), .evenPort(reserveNext: true)])
    }

    @Test("Attributes after MESSAGE-INTEGRITY other than MESSAGE-INTEGRITY-SHA256 and FINGERPRINT are ignored")
    func afterMessageIntegrity() throws {
        let message = STUNMessage(
            type: .bindingRequest, transactionID: .fixed(RFC5769.transactionID),
            attributes: [
                .username("u"), .messageIntegrity(Array(repeating: 1, count: 20)), .software("ignored"),
                .unknown(type: 0x0003, value: [0, 0, 0, 0]), .messageIntegrity(Array(repeating: 2, count: 20)),
                .messageIntegritySHA256(Array(repeating: 3, count: 32)), .lifetime(9),
                .messageIntegrity(Array(repeating: 4, count: 20)), .fingerprint(0),
            ])
        let parsed = try STUNCodec.decode(message.encode())
        #expect(
            parsed.message.attributes == [
                .username("u"), .messageIntegrity(Array(repeating: 1, count: 20)),
                .messageIntegritySHA256(Array(repeating: 3, count: 32)), .fingerprint(0),
            ])
        #expect(parsed.unknownComprehensionRequired.isEmpty)
        #expect(parsed.fingerprintValid == false)
    }

    @Test("Ignored attributes after MESSAGE-INTEGRITY are not parsed, so a malformed one is no error")
    func malformedAfterMessageIntegrity() throws {
        let body =
            attributeBytes(type: 0x0008, value: Array(repeating: 0, count: 20))
            + attributeBytes(type: 0x0020, value: [1, 2, 3])
        let parsed = try STUNCodec.decode(stunBytes(body: body))
        #expect(parsed.message.attributes.count == 1)
    }

    @Test("Nothing may follow FINGERPRINT")
    func afterFingerprint() {
        let body = attributeBytes(type: 0x8028, value: [0, 0, 0, 0]) + attributeBytes(type: 0x8022, value: [0x61])
        #expect(decodeError(stunBytes(body: body)) == .attributeAfterFingerprint)
    }

    @Test("Unknown comprehension-required types are reported once each; comprehension-optional ones are not")
    func unknownAttributes() throws {
        let body =
            attributeBytes(type: 0x0003, value: [0, 0, 0, 4])
            + attributeBytes(type: 0x8003, value: Array("example.com".utf8))
            + attributeBytes(type: 0x7FFF, value: [])
            + attributeBytes(type: 0x0003, value: [0, 0, 0, 0])
            + attributeBytes(type: 0xC057, value: [1, 2, 3, 4])
        let parsed = try STUNCodec.decode(stunBytes(body: body))
        #expect(parsed.unknownComprehensionRequired == [0x0003, 0x7FFF])
        #expect(parsed.message.attributes.count == 5)
        #expect(parsed.message.attributes[1] == .unknown(type: 0x8003, value: Array("example.com".utf8)))

        let optionalOnly = try STUNCodec.decode(stunBytes(body: attributeBytes(type: 0x8004, value: [0, 0, 0, 0])))
        #expect(optionalOnly.unknownComprehensionRequired.isEmpty)
    }

    @Test("Stream framing reads the total length from the header")
    func messageLength() {
        #expect(STUNCodec.messageLength(header: RFC5769.sampleRequest) == RFC5769.sampleRequest.count)
        #expect(STUNCodec.messageLength(header: RFC5769.sampleRequest.prefix(4)) == RFC5769.sampleRequest.count)
        #expect(STUNCodec.messageLength(header: RFC5769.sampleRequest.prefix(3)) == nil)
        #expect(STUNCodec.messageLength(header: [0x40, 0x00, 0x00, 0x04]) == nil)
    }
}
