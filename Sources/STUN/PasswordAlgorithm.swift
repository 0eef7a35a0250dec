/// A password algorithm, as listed in PASSWORD-ALGORITHMS and chosen in PASSWORD-ALGORITHM
/// (RFC 8489 §18.5, §14.11, §14.12): it selects the hash used to derive the long-term key (§9.2.2).
///
/// Equality and hashing follow the wire number, so `.other(1) == .md5`; the decoder always
/// produces `.md5` and `.sha256` for 0x0001 and 0x0002.
public enum PasswordAlgorithm: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    /// 0x0001: MD5 (RFC 8489 §18.5.1.1), the key derivation of RFC 5389.
    case md5
    /// 0x0002: SHA-256 (RFC 8489 §18.5.1.2).
    case sha256
    /// Any other registered or private value; its parameters are not kept.
    case other(UInt16)

    public init(rawValue: UInt16) {
        switch rawValue {
        case 0x0001: self = .md5
        case 0x0002: self = .sha256
        default: self = .other(rawValue)
        }
    }

    public var rawValue: UInt16 {
        switch self {
        case .md5: 0x0001
        case .sha256: 0x0002
        case .other(let value): value
        }
    }

    public static func == (lhs: PasswordAlgorithm, rhs: PasswordAlgorithm) -> Bool {
        lhs.rawValue == rhs.rawValue
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(rawValue)
    }

    public var description: String {
        switch PasswordAlgorithm(rawValue: rawValue) {
        case .md5: "MD5"
        case .sha256: "SHA-256"
        case .other(let value): "PasswordAlgorithm(0x\(String(value, radix: 16)))"
        }
    }
}
