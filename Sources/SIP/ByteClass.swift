/// A set of ASCII bytes as a 128-bit mask, so that classifying a byte is a shift and an AND on constants
/// (no table, no lazy global initialization on the parser's hot path).
struct ByteSet: Sendable {
    let low: UInt64
    let high: UInt64

    @inline(__always)
    func contains(_ byte: UInt8) -> Bool {
        byte < 64 ? (low >> UInt64(byte)) & 1 != 0 : byte < 128 ? (high >> UInt64(byte &- 64)) & 1 != 0 : false
    }

    @inline(__always)
    static func | (lhs: ByteSet, rhs: ByteSet) -> ByteSet {
        ByteSet(low: lhs.low | rhs.low, high: lhs.high | rhs.high)
    }
}

/// Character classes of the RFC 3261 §25.1 grammar (masks generated from the character lists below).
enum ByteClass {
    /// `token` (RFC 3261 §25.1): alphanum / "-" / "." / "!" / "%" / "*" / "_" / "+" / "`" / "'" / "~".
    static let token = ByteSet(low: 0x03FF_6CA2_0000_0000, high: 0x47FF_FFFF_87FF_FFFE)
    /// `word` (§25.1): token characters plus `( ) < > : \ " / [ ] ? { }`, used by Call-ID.
    static let word = ByteSet(low: 0xD7FF_EFA6_0000_0000, high: 0x6FFF_FFFF_BFFF_FFFE)
    /// `unreserved` (§25.1): alphanum / mark (`- _ . ! ~ * ' ( )`).
    static let unreserved = ByteSet(low: 0x03FF_6782_0000_0000, high: 0x47FF_FFFE_87FF_FFFE)
    /// `user-unreserved` (§25.1): `& = + $ , ; ? /`.
    static let userExtra = ByteSet(low: 0xA800_9850_0000_0000, high: 0)
    /// The password characters beyond unreserved (§25.1): `& = + $ ,`.
    static let passwordExtra = ByteSet(low: 0x2000_1850_0000_0000, high: 0)
    /// `param-unreserved` (§25.1): `[ ] / : & + $`.
    static let paramExtra = ByteSet(low: 0x0400_8850_0000_0000, high: 0x2800_0000)
    /// `hnv-unreserved` (§25.1): `[ ] / ? : + $`.
    static let headerExtra = ByteSet(low: 0x8400_8810_0000_0000, high: 0x2800_0000)
    /// Host name characters: alphanum, `-`, `.`, and `_` (seen in the wild, tolerated).
    static let hostname = ByteSet(low: 0x03FF_6000_0000_0000, high: 0x07FF_FFFE_87FF_FFFE)
    /// HEXDIG.
    static let hex = ByteSet(low: 0x03FF_0000_0000_0000, high: 0x7E_0000_007E)
    /// DIGIT.
    static let digit = ByteSet(low: 0x03FF_0000_0000_0000, high: 0)
    /// Scheme characters after the first letter (RFC 2396 §3.1): alphanum / `+ - .`.
    static let scheme = ByteSet(low: 0x03FF_6800_0000_0000, high: 0x07FF_FFFE_07FF_FFFE)
    /// `uric` (RFC 2396 §2): reserved / unreserved / `%`, the body of an absoluteURI.
    static let uric = ByteSet(low: 0xAFFF_FFF2_0000_0000, high: 0x47FF_FFFE_87FF_FFFF)

    @inline(__always)
    static func test(_ byte: UInt8, _ set: ByteSet) -> Bool {
        set.contains(byte)
    }

    @inline(__always)
    static func isWhitespace(_ byte: UInt8) -> Bool {
        byte == 0x20 || byte == 0x09
    }

    @inline(__always)
    static func lowercased(_ byte: UInt8) -> UInt8 {
        byte >= 0x41 && byte <= 0x5A ? byte | 0x20 : byte
    }

    @inline(__always)
    static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case 0x30...0x39: byte - 0x30
        case 0x41...0x46: byte - 0x41 + 10
        case 0x61...0x66: byte - 0x61 + 10
        default: nil
        }
    }
}

extension String {
    /// Runs `body` over the string's UTF-8 bytes without copying them when the string is native.
    func withUTF8Bytes<R>(_ body: (UnsafeBufferPointer<UInt8>) -> R) -> R {
        if let result = utf8.withContiguousStorageIfAvailable(body) { return result }
        let copy = Array(utf8)
        return copy.withUnsafeBufferPointer(body)
    }

    /// Whether two strings are equal ignoring ASCII case (SIP tokens are case-insensitive, §7.3.1).
    func equalsIgnoringASCIICase(_ other: String) -> Bool {
        let lhs = utf8
        let rhs = other.utf8
        guard lhs.count == rhs.count else { return false }
        // Compared where the bytes lie (parameter names are looked up this way several times per
        // message); the generic zip of two UTF-8 views cost a hundred instructions a byte.
        let compared: Bool?? = lhs.withContiguousStorageIfAvailable { left in
            rhs.withContiguousStorageIfAvailable { right in
                for index in 0..<left.count
                where ByteClass.lowercased(left[index]) != ByteClass.lowercased(right[index]) {
                    return false
                }
                return true
            }
        }
        if let compared, let compared { return compared }
        return zip(lhs, rhs).allSatisfy { ByteClass.lowercased($0) == ByteClass.lowercased($1) }
    }

    /// The string with ASCII letters lowered and every other byte untouched.
    /// The usual string has no capital and comes back as it is, after a scan of its bytes where they lie
    /// (the generic `utf8.contains` cost a dozen instructions a byte; transports, sent-by values and
    /// parameter names go through here on every message).
    var asciiLowercased: String {
        if !containsByte(in: 0x41...0x5A) { return self }
        return String(decoding: utf8.map(ByteClass.lowercased), as: UTF8.self)
    }

    /// The string with ASCII letters raised and every other byte untouched.
    var asciiUppercased: String {
        if !containsByte(in: 0x61...0x7A) { return self }
        return String(decoding: utf8.map { $0 >= 0x61 && $0 <= 0x7A ? $0 - 0x20 : $0 }, as: UTF8.self)
    }

    private func containsByte(in range: ClosedRange<UInt8>) -> Bool {
        let inPlace = utf8.withContiguousStorageIfAvailable { bytes in
            bytes.contains { range.contains($0) }
        }
        return inPlace ?? utf8.contains { range.contains($0) }
    }
}
