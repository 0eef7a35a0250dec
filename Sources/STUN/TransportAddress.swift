/// An IP address and port, as STUN carries them (RFC 8489 §14.1): a value type with no socket
/// in it, so the protocol cores can be tested without the network.
public struct TransportAddress: Hashable, Sendable, CustomStringConvertible {
    public enum Family: UInt8, Sendable {
        case ipv4 = 0x01
        case ipv6 = 0x02
    }

    public var family: Family
    /// The address bytes, stored inline: hashing and comparing an address touch two words, and
    /// the relay's data path allocates nothing for it.
    public var host: IPHost
    public var port: UInt16

    /// 4 bytes for IPv4, 16 for IPv6, network order. (Allocates: for the control path.)
    public var address: [UInt8] {
        get { host.bytes }
        set { host = IPHost(newValue) }
    }

    public init(ipv4 address: (UInt8, UInt8, UInt8, UInt8), port: UInt16) {
        self.family = .ipv4
        self.host = IPHost([address.0, address.1, address.2, address.3])
        self.port = port
    }

    public init(family: Family, host: IPHost, port: UInt16) {
        self.family = family
        self.host = host
        self.port = port
    }

    /// nil when `address` is neither 4 nor 16 bytes long.
    public init?(bytes address: [UInt8], port: UInt16) {
        switch address.count {
        case 4: family = .ipv4
        case 16: family = .ipv6
        default: return nil
        }
        self.host = IPHost(address)
        self.port = port
    }

    /// Parses `1.2.3.4` or `2001:db8::1` (no brackets, no port).
    public init?(text: String, port: UInt16) {
        if let v4 = Self.parseIPv4(text) {
            self.init(bytes: v4, port: port)
        } else if let v6 = Self.parseIPv6(text) {
            self.init(bytes: v6, port: port)
        } else {
            return nil
        }
    }

    public var addressText: String {
        switch family {
        case .ipv4:
            // Read in place (no array of bytes, no array of strings): logs print an address for
            // every allocation made and released.
            return host.withUnsafeBytes { bytes in
                bytes.count == 4
                    ? "\(bytes[0]).\(bytes[1]).\(bytes[2]).\(bytes[3])" : bytes.map(String.init).joined(separator: ".")
            }
        case .ipv6:
            return Self.formatIPv6(address)
        }
    }

    public var description: String {
        family == .ipv4 ? "\(addressText):\(port)" : "[\(addressText)]:\(port)"
    }

    static func parseIPv4(_ text: String) -> [UInt8]? {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4 else { return nil }
        var bytes: [UInt8] = []
        for part in parts {
            guard !part.isEmpty, part.count <= 3, part.allSatisfy(\.isASCII), let value = UInt8(part) else {
                return nil
            }
            bytes.append(value)
        }
        return bytes
    }

    static func parseIPv6(_ text: String) -> [UInt8]? {
        guard text.contains(":"), text.allSatisfy({ $0.isHexDigit || $0 == ":" || $0 == "." }) else { return nil }
        let gaps = text.ranges(of: "::")
        guard gaps.count <= 1 else { return nil }
        let halves = gaps.first.map { [String(text[..<$0.lowerBound]), String(text[$0.upperBound...])] } ?? [text]
        func groups(_ part: String) -> [UInt16]? {
            if part.isEmpty { return [] }
            var result: [UInt16] = []
            let pieces = part.split(separator: ":", omittingEmptySubsequences: false)
            for (index, piece) in pieces.enumerated() {
                if index == pieces.count - 1, piece.contains(".") {
                    guard let v4 = parseIPv4(String(piece)) else { return nil }
                    result.append(UInt16(v4[0]) << 8 | UInt16(v4[1]))
                    result.append(UInt16(v4[2]) << 8 | UInt16(v4[3]))
                } else {
                    guard !piece.isEmpty, piece.count <= 4, let value = UInt16(piece, radix: 16) else { return nil }
                    result.append(value)
                }
            }
            return result
        }
        guard let head = groups(halves[0]) else { return nil }
        var all = head
        if halves.count == 2 {
            guard let tail = groups(halves[1]), head.count + tail.count < 8 else { return nil }
            all += Array(repeating: 0, count: 8 - head.count - tail.count) + tail
        }
        guard all.count == 8 else { return nil }
        return all.flatMap { [UInt8($0 >> 8), UInt8($0 & 0xff)] }
    }

    /// RFC 5952 text: lowercase, longest run of two or more zero groups shortened to `::`.
    static func formatIPv6(_ bytes: [UInt8]) -> String {
        let groups = (0..<8).map { UInt16(bytes[$0 * 2]) << 8 | UInt16(bytes[$0 * 2 + 1]) }
        var bestStart = -1
        var bestLength = 1
        var index = 0
        while index < 8 {
            if groups[index] == 0 {
                var end = index
                while end < 8, groups[end] == 0 { end += 1 }
                if end - index > bestLength {
                    bestStart = index
                    bestLength = end - index
                }
                index = end
            } else {
                index += 1
            }
        }
        let text = groups.map { String($0, radix: 16) }
        guard bestStart >= 0 else { return text.joined(separator: ":") }
        let head = text[..<bestStart].joined(separator: ":")
        let tail = text[(bestStart + bestLength)...].joined(separator: ":")
        return head + "::" + tail
    }

    /// Three words into the hasher: every `Hasher.combine` is a call into the standard library,
    /// and the TURN relay hashes addresses for every datagram (the derived hashing made five).
    public func hash(into hasher: inout Hasher) {
        hash(into: &hasher, tag: 0)
    }

    /// `hash(into:)` with one more byte folded into the last word, for a key made of an address
    /// and a small code (a TURN 5-tuple's transport) at no extra call.
    public func hash(into hasher: inout Hasher, tag: UInt8) {
        hasher.combine(host.high)
        hasher.combine(host.low)
        hasher.combine(UInt64(port) | UInt64(family.rawValue) << 16 | UInt64(host.count) << 24 | UInt64(tag) << 32)
    }
}

/// Up to 16 address bytes in two words plus a length: an IPv4 or IPv6 host address as a
/// hashable value that needs no heap storage.
public struct IPHost: Hashable, Sendable {
    /// Bytes 0–7 and 8–15, as they lie in memory (network order byte by byte).
    @usableFromInline var high: UInt64 = 0
    @usableFromInline var low: UInt64 = 0
    @usableFromInline var length: UInt8 = 0
    /// How many bytes were given (4 or 16 when well formed); at most 16 are kept.
    public var count: UInt8 { length }

    /// An IPv4 host from an `in_addr`'s 32 bits as they lie in memory. Inlinable, like
    /// `init(ipv6High:low:)` and `ipv4Bits`: the data plane converts a kernel address each way
    /// per datagram, and a call into this module's generic byte access cost more than the copy.
    @inlinable public init(ipv4Bits bits: UInt32) {
        Swift.withUnsafeMutableBytes(of: &high) { $0.storeBytes(of: bits, as: UInt32.self) }
        length = 4
    }

    /// An IPv6 host from an `in6_addr`'s 16 bytes read as two words, in memory order.
    @inlinable public init(ipv6High high: UInt64, low: UInt64) {
        self.high = high
        self.low = low
        length = 16
    }

    /// The first four bytes as they lie in memory: an IPv4 host's `in_addr`.
    @inlinable public var ipv4Bits: UInt32 { Swift.withUnsafeBytes(of: high) { $0.load(as: UInt32.self) } }

    /// The sixteen bytes as two words in memory order: an IPv6 host's `in6_addr`.
    @inlinable public var ipv6Words: (high: UInt64, low: UInt64) { (high, low) }

    public init(_ bytes: [UInt8]) {
        self = bytes.withUnsafeBytes { IPHost(rawBytes: $0) }
    }

    public init(rawBytes: UnsafeRawBufferPointer) {
        let kept = min(rawBytes.count, 16)
        length = UInt8(kept)
        // Block copies, not byte loops: the relay builds one host per datagram it reads.
        withUnsafeMutableBytes(of: &high) {
            $0.copyMemory(from: UnsafeRawBufferPointer(rebasing: rawBytes[..<min(kept, 8)]))
        }
        if kept > 8 {
            withUnsafeMutableBytes(of: &low) {
                $0.copyMemory(from: UnsafeRawBufferPointer(rebasing: rawBytes[8..<kept]))
            }
        }
    }

    public var bytes: [UInt8] {
        withUnsafeBytes { Array($0) }
    }

    /// The first address byte (0 for an empty host), read without copying: IPv4 224–239 and
    /// IPv6 0xFF begin multicast groups (RFC 5771, RFC 4291 §2.7).
    public var firstByte: UInt8 { count == 0 ? 0 : Swift.withUnsafeBytes(of: high) { $0[0] } }

    /// The address bytes, without copying them to the heap.
    public func withUnsafeBytes<Result>(_ body: (UnsafeRawBufferPointer) throws -> Result) rethrows -> Result {
        var words = (high, low)
        return try Swift.withUnsafeBytes(of: &words) {
            try body(UnsafeRawBufferPointer(rebasing: $0.prefix(Int(count))))
        }
    }
}
