@testable import STUN

/// SplitMix64: a small seeded generator, so the random-input tests are the same on every run.
struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64

    init(seed: UInt64) {
        state = seed
    }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

extension TransactionID {
    /// For tests: a transaction ID from bytes known to be 12 long.
    static func fixed(_ bytes: [UInt8]) -> TransactionID {
        TransactionID(uncheckedBytes: bytes)
    }
}

/// Sets the 16-bit big-endian value at `offset`.
func setUInt16(_ value: UInt16, at offset: Int, in bytes: inout [UInt8]) {
    bytes[offset] = UInt8(value >> 8)
    bytes[offset + 1] = UInt8(value & 0xFF)
}

/// A message header followed by `body`, with the length field set to the body's length.
func stunBytes(type: UInt16 = 0x0001, transactionID: [UInt8] = RFC5769.transactionID, body: [UInt8]) -> [UInt8] {
    var bytes: [UInt8] = [UInt8(type >> 8), UInt8(type & 0xFF), UInt8(body.count >> 8), UInt8(body.count & 0xFF)]
    bytes += [0x21, 0x12, 0xA4, 0x42] + transactionID + body
    return bytes
}

/// One attribute TLV with `padding` bytes filling to a multiple of 4.
func attributeBytes(type: UInt16, value: [UInt8], padding: UInt8 = 0) -> [UInt8] {
    var bytes: [UInt8] = [UInt8(type >> 8), UInt8(type & 0xFF), UInt8(value.count >> 8), UInt8(value.count & 0xFF)]
    bytes += value
    bytes += Array(repeating: padding, count: (4 - value.count % 4) % 4)
    return bytes
}
