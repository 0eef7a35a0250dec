import Testing

@testable import STUN

@Suite("MESSAGE-INTEGRITY, MESSAGE-INTEGRITY-SHA256, FINGERPRINT and credentials (RFC 8489 §9, §14.5-§14.7)")
struct IntegrityTests {
    let key = STUNCredentials.shortTermKey(password: RFC5769.shortTermPassword)

    @Test("Changing any byte covered by MESSAGE-INTEGRITY makes verification fail")
    func tamperedBytes() throws {
        let original = RFC5769.sampleRequest
        // MESSAGE-INTEGRITY starts 32 bytes before the end (24 for it, 8 for FINGERPRINT) and covers what precedes it.
        let integrityOffset = original.count - 32
        for index in 0..<integrityOffset + 24 where ![2, 3].contains(index) {
            var tampered = original
            tampered[index] ^= 0x01
            guard let parsed = try? STUNCodec.decode(tampered) else { continue }
            #expect(!parsed.verifyMessageIntegrity(key: key), "byte \(index)")
            #expect(parsed.fingerprintValid == false, "byte \(index)")
        }
        // The FINGERPRINT value itself is not covered by MESSAGE-INTEGRITY.
        var badFingerprint = original
        badFingerprint[original.count - 1] ^= 0xFF
        let parsed = try STUNCodec.decode(badFingerprint)
        #expect(parsed.verifyMessageIntegrity(key: key))
        #expect(parsed.fingerprintValid == false)
    }

    @Test("Tampered SOFTWARE in the IPv4 response fails integrity")
    func tamperedSoftware() throws {
        var tampered = RFC5769.ipv4Response
        tampered[24] = UInt8(ascii: "T")
        let parsed = try STUNCodec.decode(tampered)
        #expect(parsed.message.software == "Test vector")
        #expect(!parsed.verifyMessageIntegrity(key: key))
        #expect(parsed.fingerprintValid == false)
        // (Not `key + [0]`: HMAC zero-pads short keys, so a trailing zero byte gives the same MAC.)
        var wrongKey = key
        wrongKey[wrongKey.count - 1] ^= 0x01
        #expect(!(try STUNCodec.decode(RFC5769.ipv4Response)).verifyMessageIntegrity(key: wrongKey))
    }

    @Test("MESSAGE-INTEGRITY-SHA256 round trip, alone and after MESSAGE-INTEGRITY")
    func sha256RoundTrip() throws {
        let message = STUNMessage(
            method: .allocate, messageClass: .request,
            attributes: [.requestedTransport(17), .username("alice"), .realm("stagedoor"), .nonce("abc")])
        let longTerm = STUNCredentials.longTermKey(
            username: "alice", realm: "stagedoor", password: "secret", algorithm: .sha256)
        #expect(longTerm.count == 32)

        let onlySHA256 = try STUNCodec.decode(
            message.encode(integrity: STUNIntegrity(key: longTerm, sha1: false, sha256: true)))
        #expect(onlySHA256.hasMessageIntegritySHA256 && !onlySHA256.hasMessageIntegrity)
        #expect(onlySHA256.message.messageIntegritySHA256?.count == 32)
        #expect(onlySHA256.verifyMessageIntegritySHA256(key: longTerm))
        #expect(!onlySHA256.verifyMessageIntegritySHA256(key: Array(longTerm.dropFirst())))
        #expect(!onlySHA256.verifyMessageIntegrity(key: longTerm))

        let both = try STUNCodec.decode(
            message.encode(integrity: STUNIntegrity(key: longTerm, algorithms: [.sha1, .sha256]), fingerprint: true))
        #expect(both.verifyMessageIntegrity(key: longTerm))
        #expect(both.verifyMessageIntegritySHA256(key: longTerm))
        #expect(both.fingerprintValid == true)
        #expect(
            both.message.attributes.suffix(3).map(\.type) == [
                STUNAttributeType.messageIntegrity, STUNAttributeType.messageIntegritySHA256,
                STUNAttributeType.fingerprint,
            ])
        #expect(both.message.attributes.dropLast(3) == message.attributes[...])
    }

    @Test("A MESSAGE-INTEGRITY-SHA256 truncated to 16 bytes verifies (RFC 8489 §14.6)")
    func truncatedSHA256() throws {
        let header = STUNMessage(
            type: .bindingRequest, transactionID: .fixed(RFC5769.transactionID), attributes: [.username("bob")]
        ).encode()
        var bytes = header
        setUInt16(UInt16(bytes.count - 20 + 4 + 16), at: 2, in: &bytes)
        let mac = bytes.withUnsafeBytes {
            STUNIntegrity.Kind.sha256.mac(key: key, prefix: $0, lengthField: UInt16(bytes.count - 20 + 20))
        }
        bytes += [0x00, 0x1C, 0x00, 0x10] + mac.prefix(16)
        let parsed = try STUNCodec.decode(bytes)
        #expect(parsed.message.messageIntegritySHA256?.count == 16)
        #expect(parsed.verifyMessageIntegritySHA256(key: key))
        #expect(!parsed.verifyMessageIntegritySHA256(key: [0]))
    }

    @Test("Existing integrity and fingerprint attributes are replaced, not written twice")
    func notWrittenTwice() throws {
        let message = STUNMessage(
            type: .bindingSuccess, transactionID: .random(),
            attributes: [
                .fingerprint(1), .messageIntegrity(Array(repeating: 0, count: 20)), .software("x"),
                .messageIntegritySHA256(Array(repeating: 0, count: 32)),
            ])
        let parsed = try STUNCodec.decode(message.encode(integrity: STUNIntegrity(key: key), fingerprint: true))
        #expect(parsed.message.attributes.count == 3)
        #expect(parsed.message.attributes.first == .software("x"))
        #expect(parsed.verifyMessageIntegrity(key: key))
        #expect(!parsed.hasMessageIntegritySHA256)
        #expect(parsed.fingerprintValid == true)

        // With integrity but fingerprint: false, a FINGERPRINT already present is recomputed, not left stale.
        let stale = STUNMessage(type: .bindingSuccess, transactionID: .random(), attributes: [.fingerprint(1)])
        let restamped = try STUNCodec.decode(stale.encode(integrity: STUNIntegrity(key: key)))
        #expect(restamped.fingerprintValid == true)
        #expect(restamped.verifyMessageIntegrity(key: key))

        // With fingerprint only, the old FINGERPRINT is dropped and a fresh one appended.
        let fingerprinted = try STUNCodec.decode(stale.encode(fingerprint: true))
        #expect(fingerprinted.message.attributes.count == 1)
        #expect(fingerprinted.fingerprintValid == true)
        #expect(!fingerprinted.hasMessageIntegrity)
        #expect(!fingerprinted.verifyMessageIntegrity(key: key))
    }

    @Test("FINGERPRINT is CRC-32 XOR 0x5354554E (RFC 8489 §14.7)")
    func fingerprintValue() {
        // The CRC-32 check value of "123456789" is 0xCBF43926.
        #expect(Array("123456789".utf8).withUnsafeBytes { STUNFingerprint.crc32($0) } == 0xCBF4_3926)
        #expect(STUNFingerprint.value(of: Array("123456789".utf8)) == 0xCBF4_3926 ^ 0x5354_554E)
        let body = RFC5769.ipv4Response.dropLast(8)
        #expect(STUNFingerprint.value(of: body) == 0xc07d_4c96)
    }

    @Test("Credentials: short-term key is the password; long-term key is MD5 or SHA-256 of user:realm:password")
    func credentials() throws {
        #expect(STUNCredentials.shortTermKey(password: "pass") == Array("pass".utf8))
        let md5 = STUNCredentials.longTermKey(username: "user", realm: "realm", password: "pass")
        // MD5("user:realm:pass"), as RFC 5389 §15.4 long-term keys have always been computed.
        #expect(
            md5 == [
                0x84, 0x93, 0xfb, 0xc5, 0x3b, 0xa5, 0x82, 0xfb, 0x4c, 0x04, 0x4c, 0x45, 0x6b, 0xdc, 0x40, 0xeb,
            ])
        let sha = STUNCredentials.longTermKey(username: "user", realm: "realm", password: "pass", algorithm: .sha256)
        #expect(sha.count == 32 && sha != md5)
        #expect(
            STUNCredentials.longTermKeyIfValid(username: "u", realm: "r", password: "p", algorithm: .other(9)) == nil)
    }

    @Test("Credentials with control characters are rejected and give keys that verify nothing")
    func controlCharacters() throws {
        #expect(STUNCredentials.opaqueString("a\u{0}b") == nil)
        #expect(STUNCredentials.opaqueString("tab\there") == nil)
        #expect(STUNCredentials.opaqueString("del\u{7F}") == nil)
        #expect(STUNCredentials.opaqueString("c1\u{85}") == nil)
        #expect(STUNCredentials.opaqueString("マトリックス") == "マトリックス")
        #expect(STUNCredentials.shortTermKeyIfValid(password: "a\nb") == nil)
        #expect(STUNCredentials.longTermKeyIfValid(username: "u\r", realm: "r", password: "p") == nil)
        #expect(STUNCredentials.userhash(username: "u", realm: "r\u{1B}") == nil)
        let first = STUNCredentials.longTermKey(username: "u", realm: "r", password: "p\u{1}")
        let second = STUNCredentials.longTermKey(username: "u", realm: "r", password: "p\u{1}")
        #expect(first.count == 16 && first != second)
        #expect(STUNCredentials.shortTermKey(password: "\u{0}") != STUNCredentials.shortTermKey(password: "\u{0}"))
    }
}
