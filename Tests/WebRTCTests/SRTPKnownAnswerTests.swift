import Testing

@testable import WebRTC

/// SRTP and SRTCP packets byte for byte against the reference packets of libsrtp's own test
/// driver (srtp_validate and srtp_validate_gcm in libsrtp's test/srtp_driver.c), through the
/// OpenSSL primitives that `CSRTPCrypto` plugs into libsrtp2 in place of Debian's NSS ones.
struct SRTPKnownAnswerTests {
    static func bytes(_ hex: String) -> [UInt8] {
        let digits = Array(hex.filter { !$0.isWhitespace })
        return stride(from: 0, to: digits.count, by: 2).map { UInt8(String(digits[$0...$0 + 1]), radix: 16)! }
    }

    static let rtp = bytes("800f1234 decafbad cafebabe abababab abababab abababab abababab")
    static let rtcp = bytes("81c8000b cafebabe abababab abababab abababab abababab")

    struct Vector: Sendable, CustomTestStringConvertible {
        var profile: SRTPProfile
        var keyAndSalt: [UInt8]
        var srtp: [UInt8]
        var srtcp: [UInt8]
        var testDescription: String { "\(profile)" }
    }

    static let vectors = [
        Vector(
            profile: .aes128CMHMACSHA1_80,
            keyAndSalt: bytes("e1f97a0d3e018be0d64fa32c06de4139 0ec675ad498afeebb6960b3aabe6"),
            srtp: bytes("800f1234 decafbad cafebabe 4e55dc4c e79978d8 8ca4d215 949d2402 b78d6acc 99ea179b 8dbb"),
            srtcp: bytes("81c8000b cafebabe 7128035b e487b9bd bef89041 f977a5a8 80000001 993e08cd 54d6c123 0798")),
        Vector(
            profile: .aeadAES128GCM,
            keyAndSalt: bytes("000102030405060708090a0b0c0d0e0f a0a1a2a3a4a5a6a7a8a9aaab"),
            srtp: bytes(
                "800f1234 decafbad cafebabe c5002ede 04cfdd2e b91159e0 880aa06e d2976826 f796b201 df3131a1 27e8a392"),
            srtcp: bytes(
                "81c8000b cafebabe c98b8b5d f0392a55 852b6c21 ac8e7025 c52c6fbe a2b3b446 ea31123b a88ce61e 80000001")),
    ]

    static func session(_ vector: Vector) throws -> SRTPSession {
        let keyLength = vector.profile.keyLength
        let key = Array(vector.keyAndSalt.prefix(keyLength))
        let salt = Array(vector.keyAndSalt.dropFirst(keyLength))
        return try SRTPSession(
            profile: vector.profile, sendingKey: key, sendingSalt: salt, receivingKey: key, receivingSalt: salt)
    }

    @Test func libsrtpRunsOverOpenSSL() throws {
        _ = try Self.session(Self.vectors[0])
        #expect(SRTPSession.usesOpenSSLCrypto, "libsrtp refused a replacement: its own primitives are in use")
    }

    @Test(arguments: vectors)
    func protectsAsTheReference(vector: Vector) throws {
        let sender = try Self.session(vector)
        #expect(try SRTPSessionTests.protect(Self.rtp, with: sender) == vector.srtp)
        #expect(try SRTPSessionTests.protect(Self.rtcp, with: sender, rtcp: true) == vector.srtcp)
    }

    @Test(arguments: vectors)
    func unprotectsTheReference(vector: Vector) throws {
        let receiver = try Self.session(vector)
        #expect(try SRTPSessionTests.unprotect(vector.srtp, with: receiver) == Self.rtp)
        #expect(try SRTPSessionTests.unprotect(vector.srtcp, with: receiver, rtcp: true) == Self.rtcp)
        var forged = vector.srtp
        forged[20] ^= 1
        #expect(throws: SRTPError.authenticationFailed) {
            try SRTPSessionTests.unprotect(forged, with: try Self.session(vector))
        }
    }
}
