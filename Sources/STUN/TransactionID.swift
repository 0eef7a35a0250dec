/// The 96-bit transaction ID of a STUN message (RFC 8489 §5, §6): chosen uniformly at random by the
/// client, copied into the response.
public struct TransactionID: Hashable, Sendable, CustomStringConvertible {
    /// The 12 bytes. The encoder writes exactly 12, zero-padding or cutting a value of another length.
    public var bytes: [UInt8]

    /// The length of a transaction ID in bytes (RFC 8489 §5).
    public static let byteCount = 12

    /// nil unless `bytes` holds exactly 12 bytes.
    public init?(bytes: [UInt8]) {
        guard bytes.count == Self.byteCount else { return nil }
        self.bytes = bytes
    }

    /// A fresh ID from the system's cryptographically secure generator (RFC 8489 §6: "uniformly and
    /// randomly chosen from the interval 0 .. 2**96-1, and MUST be cryptographically random").
    public static func random() -> TransactionID {
        var generator = SystemRandomNumberGenerator()
        return random(using: &generator)
    }

    /// A fresh ID from `generator`; tests pass a seeded one.
    public static func random(using generator: inout some RandomNumberGenerator) -> TransactionID {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(byteCount)
        for _ in 0..<byteCount {
            bytes.append(UInt8.random(in: .min ... .max, using: &generator))
        }
        return TransactionID(uncheckedBytes: bytes)
    }

    init(uncheckedBytes bytes: [UInt8]) {
        self.bytes = bytes
    }

    /// Exactly 12 bytes, whatever was stored in `bytes`.
    var wireBytes: [UInt8] {
        if bytes.count == Self.byteCount { return bytes }
        let head = bytes.prefix(Self.byteCount)
        return Array(head) + Array(repeating: 0, count: Self.byteCount - head.count)
    }

    public var description: String {
        wireBytes.map { byte in
            let hex = String(byte, radix: 16)
            return byte < 0x10 ? "0" + hex : hex
        }.joined()
    }
}
