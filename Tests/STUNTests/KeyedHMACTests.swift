import Crypto
import Testing

@testable import STUN

@Suite("HMAC specialised in place (RFC 2104)")
struct KeyedHMACTests {
    static func hex(_ bytes: [UInt8]) -> String { bytes.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined() }

    @Test("RFC 2202 and RFC 4231 vectors, short and longer-than-block keys")
    func publishedVectors() {
        let hiThere = Array("Hi There".utf8)
        let shortKey = [UInt8](repeating: 0x0B, count: 20)
        let sha1Short = hiThere.withUnsafeBytes { KeyedHMAC<Insecure.SHA1>.authenticationCode(for: $0, key: shortKey) }
        #expect(Self.hex(sha1Short) == "b617318655057264e28bc0b6fb378c8ef146be00")  // RFC 2202 §3, case 1
        let sha256Short = hiThere.withUnsafeBytes { KeyedHMAC<SHA256>.authenticationCode(for: $0, key: shortKey) }
        // RFC 4231 §4.2
        #expect(Self.hex(sha256Short) == "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7")

        let longMessage = Array("Test Using Larger Than Block-Size Key - Hash Key First".utf8)
        let sha1Long = longMessage.withUnsafeBytes {
            KeyedHMAC<Insecure.SHA1>.authenticationCode(for: $0, key: [UInt8](repeating: 0xAA, count: 80))
        }
        #expect(Self.hex(sha1Long) == "aa4ae5e15272d00e95705637ce8a3b55ed402112")  // RFC 2202 §3, case 6
        let sha256Long = longMessage.withUnsafeBytes {
            KeyedHMAC<SHA256>.authenticationCode(for: $0, key: [UInt8](repeating: 0xAA, count: 131))
        }
        // RFC 4231 §4.7
        #expect(Self.hex(sha256Long) == "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54")
    }

    /// Every key length around the 64-byte block, messages fed in two parts, against Crypto's HMAC.
    @Test("agrees with Crypto's HMAC for keys of 0 to 130 bytes")
    func agreesWithCrypto() {
        var generator = SystemRandomNumberGenerator()
        for keyLength in 0...130 {
            let key = (0..<keyLength).map { _ in UInt8.random(in: 0...255, using: &generator) }
            let message = (0..<(keyLength * 3 % 200)).map { _ in UInt8.random(in: 0...255, using: &generator) }
            let split = message.count / 3
            var sha1 = KeyedHMAC<Insecure.SHA1>(key: key)
            var sha256 = KeyedHMAC<SHA256>(key: key)
            message.withUnsafeBytes { bytes in
                for part in [bytes[..<split], bytes[split...]] {
                    sha1.update(UnsafeRawBufferPointer(rebasing: part))
                    sha256.update(UnsafeRawBufferPointer(rebasing: part))
                }
            }
            let symmetric = SymmetricKey(data: key)
            #expect(sha1.finalize() == Array(HMAC<Insecure.SHA1>.authenticationCode(for: message, using: symmetric)))
            #expect(sha256.finalize() == Array(HMAC<SHA256>.authenticationCode(for: message, using: symmetric)))
        }
    }

    @Test("a keyed value is reused: each copy authenticates its own message")
    func copiesAreIndependent() {
        let keyed = KeyedHMAC<Insecure.SHA1>(key: Array("secret".utf8))
        var first = keyed
        var second = keyed
        first.update(UnsafeRawBufferPointer(start: nil, count: 0))
        Array("a".utf8).withUnsafeBytes { first.update($0) }
        Array("b".utf8).withUnsafeBytes { second.update($0) }
        let expectedA = HMAC<Insecure.SHA1>.authenticationCode(
            for: Array("a".utf8), using: SymmetricKey(data: Array("secret".utf8)))
        let expectedB = HMAC<Insecure.SHA1>.authenticationCode(
            for: Array("b".utf8), using: SymmetricKey(data: Array("secret".utf8)))
        #expect(first.finalize() == Array(expectedA))
        #expect(second.finalize() == Array(expectedB))
        #expect(
            keyed.finalize()
                == Array(
                    HMAC<Insecure.SHA1>.authenticationCode(
                        for: [UInt8](), using: SymmetricKey(data: Array("secret".utf8)))))
    }
}
