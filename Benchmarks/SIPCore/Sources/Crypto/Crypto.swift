/// A stand-in for the slice of swift-crypto that SIPProxy uses (FlowToken.swift:
/// `HMAC<SHA256>.authenticationCode(for:using:)` and `SymmetricKey(data:)`), so the benchmark builds
/// offline with no dependencies. NOT cryptographic: a keyed, deterministic 256-bit mix (four FNV-1a-style
/// lanes). Tokens made with it verify with it, which is all the benchmark needs. Its cost is not
/// representative of real HMAC-SHA256 (the proxy caches tokens, so it runs about once per flow).

public protocol HashFunction {}

public enum SHA256: HashFunction {}

public struct SymmetricKey {
    public let bytes: [UInt8]

    public init<D: Sequence>(data: D) where D.Element == UInt8 {
        self.bytes = Array(data)
    }
}

/// 32 bytes, iterable like swift-crypto's `HashedAuthenticationCode`.
public struct HashedAuthenticationCode<H: HashFunction>: Sequence, Hashable {
    public let bytes: [UInt8]
    public func makeIterator() -> IndexingIterator<[UInt8]> { bytes.makeIterator() }
}

public struct HMAC<H: HashFunction> {
    public static func authenticationCode<D: Sequence>(for data: D, using key: SymmetricKey)
        -> HashedAuthenticationCode<H> where D.Element == UInt8
    {
        var lanes: [UInt64] = [0xcbf2_9ce4_8422_2325, 0x8422_2325_cbf2_9ce4, 0x9e37_79b9_7f4a_7c15, 0x0123_4567_89ab_cdef]
        func mix(_ byte: UInt8) {
            for lane in 0..<4 {
                lanes[lane] = (lanes[lane] ^ UInt64(byte) ^ UInt64(lane)) &* 0x0000_0100_0000_01B3
            }
        }
        for byte in key.bytes { mix(byte) }
        mix(0x5c)
        for byte in data { mix(byte) }
        for byte in key.bytes { mix(byte ^ 0x36) }
        var out: [UInt8] = []
        out.reserveCapacity(32)
        for lane in 0..<4 {
            var value = lanes[lane]
            value ^= value >> 33
            value = value &* 0xff51_afd7_ed55_8ccd
            value ^= value >> 33
            for shift in stride(from: 56, through: 0, by: -8) { out.append(UInt8(truncatingIfNeeded: value >> UInt64(shift))) }
        }
        return HashedAuthenticationCode(bytes: out)
    }
}
