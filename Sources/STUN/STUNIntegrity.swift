import Crypto

/// What `STUNMessage.encode` needs to append MESSAGE-INTEGRITY (HMAC-SHA1, RFC 8489 §14.5) and/or
/// MESSAGE-INTEGRITY-SHA256 (HMAC-SHA256, RFC 8489 §14.6): the key and which of the two to add.
///
/// The key is the short-term or long-term credential key of RFC 8489 §9.1.1 / §9.2.2; see
/// `STUNCredentials`. When both are asked for, MESSAGE-INTEGRITY comes first and
/// MESSAGE-INTEGRITY-SHA256 covers it (§14.6).
public struct STUNIntegrity: Hashable, Sendable {
    /// The HMAC used by each integrity attribute.
    public enum Kind: Hashable, Sendable, CaseIterable {
        /// MESSAGE-INTEGRITY, HMAC-SHA1, 20 bytes (RFC 8489 §14.5).
        case sha1
        /// MESSAGE-INTEGRITY-SHA256, HMAC-SHA256, 32 bytes (RFC 8489 §14.6).
        case sha256
    }

    public var key: [UInt8]
    public var algorithms: Set<Kind>

    /// By default only MESSAGE-INTEGRITY, which every STUN and TURN implementation understands.
    public init(key: [UInt8], sha1: Bool = true, sha256: Bool = false) {
        self.key = key
        var algorithms: Set<Kind> = []
        if sha1 { algorithms.insert(.sha1) }
        if sha256 { algorithms.insert(.sha256) }
        self.algorithms = algorithms
    }

    public init(key: [UInt8], algorithms: Set<Kind>) {
        self.key = key
        self.algorithms = algorithms
    }

    /// Short-term credentials (RFC 8489 §9.1.1), as ICE uses them.
    public static func shortTerm(password: String, sha1: Bool = true, sha256: Bool = false) -> STUNIntegrity {
        STUNIntegrity(key: STUNCredentials.shortTermKey(password: password), sha1: sha1, sha256: sha256)
    }

    /// Long-term credentials (RFC 8489 §9.2.2), as TURN uses them.
    public static func longTerm(
        username: String, realm: String, password: String, algorithm: PasswordAlgorithm = .md5,
        sha1: Bool = true, sha256: Bool = false
    ) -> STUNIntegrity {
        let key = STUNCredentials.longTermKey(
            username: username, realm: realm, password: password, algorithm: algorithm)
        return STUNIntegrity(key: key, sha1: sha1, sha256: sha256)
    }
}

extension STUNIntegrity.Kind {
    /// The attribute type that carries this HMAC.
    public var attributeType: UInt16 {
        switch self {
        case .sha1: STUNAttributeType.messageIntegrity
        case .sha256: STUNAttributeType.messageIntegritySHA256
        }
    }

    /// The full HMAC length in bytes.
    public var macLength: Int {
        switch self {
        case .sha1: 20
        case .sha256: 32
        }
    }

    /// The HMAC of a message prefix (header and the attributes before the integrity attribute), computed as
    /// if the header's length field were `lengthField` (RFC 8489 §14.5, §14.6: the length counts the
    /// integrity attribute itself but nothing after it). `prefix` must be at least the 20-byte header.
    func mac(key: [UInt8], prefix: UnsafeRawBufferPointer, lengthField: UInt16) -> [UInt8] {
        guard prefix.count >= 20 else { return [] }
        return withUnsafeTemporaryAllocation(byteCount: 20, alignment: 8) { header in
            header.copyMemory(from: UnsafeRawBufferPointer(rebasing: prefix[0..<20]))
            header[2] = UInt8(truncatingIfNeeded: lengthField >> 8)
            header[3] = UInt8(truncatingIfNeeded: lengthField)
            let body = UnsafeRawBufferPointer(rebasing: prefix[20...])
            switch self {
            case .sha1: return Self.mac(KeyedHMAC<Insecure.SHA1>(key: key), UnsafeRawBufferPointer(header), body)
            case .sha256: return Self.mac(KeyedHMAC<SHA256>(key: key), UnsafeRawBufferPointer(header), body)
            }
        }
    }

    private static func mac<H>(
        _ keyed: KeyedHMAC<H>, _ header: UnsafeRawBufferPointer, _ body: UnsafeRawBufferPointer
    ) -> [UInt8] {
        var hmac = keyed
        hmac.update(header)
        hmac.update(body)
        return hmac.finalize()
    }
}

/// Compares without an early exit, so the time taken does not tell how many leading bytes matched.
func constantTimeEquals(_ lhs: [UInt8], _ rhs: some Collection<UInt8>) -> Bool {
    guard lhs.count == rhs.count else { return false }
    var difference: UInt8 = 0
    for (left, right) in zip(lhs, rhs) {
        difference |= left ^ right
    }
    return difference == 0
}
