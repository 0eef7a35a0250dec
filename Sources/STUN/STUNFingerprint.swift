/// FINGERPRINT (RFC 8489 §14.7): the CRC-32 of the message up to the attribute, XOR-ed with 0x5354554E,
/// which tells STUN apart from other protocols sharing a port.
///
/// The CRC is the one of ISO/IEC 13239 / ITU-T V.42 (as in gzip and Ethernet): reflected, polynomial
/// 0xEDB88320, initial value and final XOR 0xFFFFFFFF.
public enum STUNFingerprint {
    /// The value XOR-ed into the CRC (ASCII "STUN", RFC 8489 §14.7).
    public static let xorValue: UInt32 = 0x5354_554E

    /// The FINGERPRINT value for `bytes`, i.e. everything of the message before the attribute, with the
    /// header length already counting the 8 bytes of FINGERPRINT.
    public static func value(of bytes: UnsafeRawBufferPointer) -> UInt32 {
        crc32(bytes) ^ xorValue
    }

    /// The FINGERPRINT value for `bytes` (see `value(of:)` for what they must be).
    public static func value(of bytes: some Collection<UInt8>) -> UInt32 {
        if let result = bytes.withContiguousStorageIfAvailable({ value(of: UnsafeRawBufferPointer($0)) }) {
            return result
        }
        return Array(bytes).withUnsafeBytes { value(of: $0) }
    }

    /// CRC-32 (IEEE 802.3) of `bytes`.
    public static func crc32(_ bytes: UnsafeRawBufferPointer) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        table.withUnsafeBufferPointer { table in
            for byte in bytes {
                crc = table[Int((crc ^ UInt32(byte)) & 0xFF)] ^ (crc >> 8)
            }
        }
        return crc ^ 0xFFFF_FFFF
    }

    /// The 256-entry table of the reflected polynomial 0xEDB88320.
    static let table: [UInt32] = (0..<256).map { index in
        var value = UInt32(index)
        for _ in 0..<8 {
            value = value & 1 == 1 ? (value >> 1) ^ 0xEDB8_8320 : value >> 1
        }
        return value
    }
}
