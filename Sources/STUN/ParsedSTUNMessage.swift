/// What `STUNCodec.decode` returns: the message, plus what checking it needs the received bytes for —
/// MESSAGE-INTEGRITY (RFC 8489 §14.5), MESSAGE-INTEGRITY-SHA256 (§14.6), FINGERPRINT (§14.7) — and the
/// unknown comprehension-required attributes a server must answer 420 for (§6.3.1.1).
public struct ParsedSTUNMessage: Sendable {
    /// The decoded message. Attributes after MESSAGE-INTEGRITY other than MESSAGE-INTEGRITY-SHA256 and
    /// FINGERPRINT, and after MESSAGE-INTEGRITY-SHA256 other than FINGERPRINT, are not in it (§14.5, §14.6).
    public var message: STUNMessage
    /// Comprehension-required attribute types (< 0x8000) this codec does not know, in order of first
    /// appearance, without repeats: a server answers 420 with UNKNOWN-ATTRIBUTES listing them
    /// (RFC 8489 §6.3.1.1); a client treats the response as failed (§6.3.3, §6.3.4).
    public var unknownComprehensionRequired: [UInt16]
    /// The message exactly as received.
    public let rawBytes: [UInt8]

    /// Where an integrity attribute or FINGERPRINT starts in `rawBytes`, and its value length.
    struct Trailer: Sendable {
        var offset: Int
        var valueLength: Int
    }

    let messageIntegrityTrailer: Trailer?
    let messageIntegritySHA256Trailer: Trailer?
    let fingerprintTrailer: Trailer?

    init(
        message: STUNMessage, unknownComprehensionRequired: [UInt16], rawBytes: [UInt8],
        messageIntegrity: Trailer?, messageIntegritySHA256: Trailer?, fingerprint: Trailer?
    ) {
        self.message = message
        self.unknownComprehensionRequired = unknownComprehensionRequired
        self.rawBytes = rawBytes
        self.messageIntegrityTrailer = messageIntegrity
        self.messageIntegritySHA256Trailer = messageIntegritySHA256
        self.fingerprintTrailer = fingerprint
    }

    /// Whether the message carries MESSAGE-INTEGRITY (RFC 8489 §14.5).
    public var hasMessageIntegrity: Bool { messageIntegrityTrailer != nil }

    /// Whether the message carries MESSAGE-INTEGRITY-SHA256 (RFC 8489 §14.6).
    public var hasMessageIntegritySHA256: Bool { messageIntegritySHA256Trailer != nil }

    /// Checks MESSAGE-INTEGRITY (HMAC-SHA1, RFC 8489 §14.5) with `key`, over the bytes as received up to the
    /// attribute, with the header length adjusted to end at it. False when the attribute is absent.
    public func verifyMessageIntegrity(key: [UInt8]) -> Bool {
        verify(messageIntegrityTrailer, kind: .sha1, key: key)
    }

    /// Checks MESSAGE-INTEGRITY-SHA256 (HMAC-SHA256, RFC 8489 §14.6) with `key`; a value shorter than 32 bytes
    /// is compared with the leading bytes of the HMAC. False when the attribute is absent.
    public func verifyMessageIntegritySHA256(key: [UInt8]) -> Bool {
        verify(messageIntegritySHA256Trailer, kind: .sha256, key: key)
    }

    /// Whether FINGERPRINT matches the CRC-32 of the bytes before it (RFC 8489 §14.7); nil when the message
    /// has no FINGERPRINT.
    public var fingerprintValid: Bool? {
        guard let trailer = fingerprintTrailer else { return nil }
        guard trailer.valueLength == 4, trailer.offset >= 20, trailer.offset + 8 <= rawBytes.count else {
            return false
        }
        let carried = ValueReader(base: rawBytes, range: (trailer.offset + 4)..<(trailer.offset + 8)).uint32(at: 0)
        let computed = rawBytes.withUnsafeBytes { raw in
            STUNFingerprint.value(of: UnsafeRawBufferPointer(rebasing: raw[0..<trailer.offset]))
        }
        return carried == computed
    }

    private func verify(_ trailer: Trailer?, kind: STUNIntegrity.Kind, key: [UInt8]) -> Bool {
        guard let trailer, trailer.offset >= 20, trailer.valueLength > 0, trailer.valueLength <= kind.macLength,
            trailer.offset + 4 + trailer.valueLength <= rawBytes.count
        else { return false }
        let lengthField = UInt16(truncatingIfNeeded: trailer.offset - 20 + 4 + trailer.valueLength)
        let mac = rawBytes.withUnsafeBytes { raw in
            kind.mac(
                key: key, prefix: UnsafeRawBufferPointer(rebasing: raw[0..<trailer.offset]), lengthField: lengthField)
        }
        let valueStart = trailer.offset + 4
        let carried = rawBytes[valueStart..<(valueStart + trailer.valueLength)]
        return constantTimeEquals(Array(mac.prefix(trailer.valueLength)), carried)
    }
}
