import NIOCore
import Testing

@testable import STUN

/// Decoding must never trap, whatever the input (RFC 8489 §6.3: anything may arrive on the port).
@Suite("Robustness: truncated, mutated and random input")
struct RobustnessTests {
    /// Decodes and, when that succeeds, exercises everything a caller might do with the result.
    func exercise(_ bytes: [UInt8]) {
        _ = STUNCodec.looksLikeSTUN(bytes)
        _ = STUNCodec.messageLength(header: bytes)
        guard let parsed = try? STUNCodec.decode(bytes) else { return }
        _ = parsed.verifyMessageIntegrity(key: [1, 2, 3])
        _ = parsed.verifyMessageIntegritySHA256(key: [1, 2, 3])
        _ = parsed.fingerprintValid
        let reencoded = parsed.message.encode(
            integrity: STUNIntegrity(key: [1], sha1: true, sha256: true),
            fingerprint: true)
        #expect((try? STUNCodec.decode(reencoded)) != nil)
    }

    @Test("Every proper prefix of each RFC 5769 vector throws")
    func truncatedPrefixes() {
        for (name, bytes) in RFC5769.all {
            for length in 0..<bytes.count {
                let prefix = Array(bytes.prefix(length))
                #expect(throws: STUNDecodingError.self, "\(name), \(length) bytes") {
                    try STUNCodec.decode(prefix)
                }
            }
        }
    }

    @Test("Prefixes with the length field patched to match never trap")
    func patchedPrefixes() {
        for (_, bytes) in RFC5769.all {
            for length in stride(from: 20, through: bytes.count, by: 1) {
                var prefix = Array(bytes.prefix(length))
                setUInt16(UInt16(length - 20), at: 2, in: &prefix)
                exercise(prefix)
            }
        }
    }

    @Test("Random bytes never trap")
    func randomBytes() {
        var generator = SeededGenerator(seed: 0x5354_554E)
        for _ in 0..<4000 {
            let length = Int.random(in: 0...160, using: &generator)
            let bytes = (0..<length).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
            exercise(bytes)
        }
    }

    @Test("Random bodies behind a valid header never trap")
    func randomBodies() {
        var generator = SeededGenerator(seed: 42)
        var decoded = 0
        for _ in 0..<4000 {
            var body: [UInt8] = []
            // Plausible attribute headers, mostly of known types, with random lengths and values.
            for _ in 0..<Int.random(in: 0...6, using: &generator) {
                let known = Array(STUNAttributeType.known)
                let type =
                    Bool.random(using: &generator)
                    ? known[Int.random(in: 0..<known.count, using: &generator)]
                    : UInt16.random(in: .min ... .max, using: &generator)
                let length = Int.random(in: 0...40, using: &generator)
                body += [UInt8(type >> 8), UInt8(type & 0xFF), 0, UInt8(length)]
                body += (0..<((length + 3) & ~3)).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
            }
            if Int.random(in: 0..<4, using: &generator) == 0, !body.isEmpty {
                body.removeLast(Int.random(in: 1...body.count, using: &generator))
                body += Array(repeating: 0, count: (4 - body.count % 4) % 4)
            }
            let bytes = stunBytes(body: body)
            if (try? STUNCodec.decode(bytes)) != nil { decoded += 1 }
            exercise(bytes)
        }
        #expect(decoded > 0)
    }

    @Test("Mutated RFC 5769 vectors never trap")
    func mutatedVectors() {
        var generator = SeededGenerator(seed: 5769)
        for (_, original) in RFC5769.all {
            for _ in 0..<1000 {
                var bytes = original
                for _ in 0..<Int.random(in: 1...4, using: &generator) {
                    let index = Int.random(in: 0..<bytes.count, using: &generator)
                    bytes[index] = UInt8.random(in: .min ... .max, using: &generator)
                }
                exercise(bytes)
            }
        }
    }

    @Test("ByteBuffer and raw-pointer decoding agree with array decoding")
    func otherInputs() throws {
        var buffer = ByteBuffer(bytes: [9, 9, 9] + RFC5769.ipv6Response)
        buffer.moveReaderIndex(forwardBy: 3)
        #expect(try STUNCodec.decode(buffer).message == STUNCodec.decode(RFC5769.ipv6Response).message)
        #expect(STUNCodec.looksLikeSTUN(buffer))
        #expect(throws: STUNDecodingError.tooShort) { try STUNCodec.decode(ByteBuffer()) }
        let viaSlice = try STUNCodec.decode(([0xFF] + RFC5769.ipv4Response)[1...])
        #expect(viaSlice.message == (try STUNCodec.decode(RFC5769.ipv4Response)).message)
    }
}
