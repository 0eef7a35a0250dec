/// The host of a SIP URI or of a Via sent-by (RFC 3261 §25.1 `host`): a host name, an IPv4 address, or
/// an IPv6 address (written in brackets, an `IPv6reference`, but stored here without them).
public enum SIPHost: Hashable, Sendable, CustomStringConvertible {
    case hostname(String)
    case ipv4(String)
    /// The address without its brackets, as written.
    case ipv6(String)

    /// The host as it appears in a URI or Via: IPv6 in brackets (§25.1 `IPv6reference`).
    public var description: String {
        switch self {
        case .hostname(let name): name
        case .ipv4(let address): address
        case .ipv6(let address): "[\(address)]"
        }
    }

    /// Appends `description` to `text`.
    func append(to text: inout TextBuilder) {
        switch self {
        case .hostname(let name), .ipv4(let name): text.append(name)
        case .ipv6(let address):
            text.append("[")
            text.append(address)
            text.append("]")
        }
    }

    /// Appends `host[:port]` (a Via's sent-by, a URI's hostport) to `text`.
    func append(to text: inout TextBuilder, port: UInt16?) {
        append(to: &text)
        if let port {
            text.append(":")
            text.append(decimal: port)
        }
    }

    /// The host without brackets.
    public var bareHost: String {
        switch self {
        case .hostname(let name): name
        case .ipv4(let address): address
        case .ipv6(let address): address
        }
    }

    /// Classifies `text` (a host name, dotted IPv4, or IPv6 with or without brackets); nil if it is none.
    public init?(_ text: String) {
        func parseWhole(_ buffer: UnsafeBufferPointer<UInt8>) -> SIPHost? {
            var cursor = ByteCursor(buffer)
            guard let host = SIPHost.parse(&cursor), cursor.isAtEnd else { return nil }
            return host
        }
        // Native strings are contiguous UTF-8: parsed in place, with no copy.
        let parsed =
            text.utf8.withContiguousStorageIfAvailable(parseWhole)
            ?? Array(text.utf8).withUnsafeBufferPointer(parseWhole)
        if let parsed {
            self = parsed
        } else if SIPHost.ipv6Octets(Array(text.utf8)[...]) != nil {
            self = .ipv6(text)
        } else {
            return nil
        }
    }

    /// Host comparison of RFC 3261 §19.1.4: host names case-insensitively, IP addresses by value (so
    /// `[::1]` and `[0:0::1]` match). A name never matches an address.
    public func isEquivalent(to other: SIPHost) -> Bool {
        switch (self, other) {
        case (.hostname(let lhs), .hostname(let rhs)):
            let lhsTrimmed = lhs.hasSuffix(".") ? String(lhs.dropLast()) : lhs
            let rhsTrimmed = rhs.hasSuffix(".") ? String(rhs.dropLast()) : rhs
            return lhsTrimmed.equalsIgnoringASCIICase(rhsTrimmed)
        case (.ipv4(let lhs), .ipv4(let rhs)):
            // The same text is the same address; otherwise compared by value.
            if lhs == rhs { return true }
            return SIPHost.ipv4Value(of: lhs) == SIPHost.ipv4Value(of: rhs)
        case (.ipv6(let lhs), .ipv6(let rhs)):
            return SIPHost.ipv6Octets(Array(lhs.utf8)[...]) == SIPHost.ipv6Octets(Array(rhs.utf8)[...])
        default:
            return false
        }
    }

    /// Parses a host at the cursor: `[IPv6]`, dotted IPv4, or a host name; leaves the cursor after it.
    /// With `build` false the syntax is checked the same way but the host's text is left empty, for a
    /// caller that only validates.
    static func parse(_ cursor: inout ByteCursor, build: Bool = true) -> SIPHost? {
        if cursor.peek() == UInt8(ascii: "[") {
            let start = cursor.index + 1
            var index = start
            while index < cursor.end, cursor.bytes[index] != UInt8(ascii: "]") { index += 1 }
            guard index < cursor.end, index > start else { return nil }
            let octets = ipv6Octets(Array(UnsafeBufferPointer(rebasing: cursor.bytes[start..<index]))[...])
            guard octets != nil else { return nil }
            let text = build ? cursor.string(start..<index) : ""
            cursor.index = index + 1
            return .ipv6(text)
        }
        let range = cursor.read(ByteClass.hostname)
        guard !range.isEmpty else { return nil }
        let slice = UnsafeBufferPointer(rebasing: cursor.bytes[range])
        let text = build ? cursor.string(range) : ""
        if slice.allSatisfy({ ByteClass.test($0, ByteClass.digit) || $0 == UInt8(ascii: ".") }) {
            guard ipv4Value(slice) != nil else { return nil }
            return .ipv4(text)
        }
        // Labels must not be empty or start with "-" (§25.1 domainlabel); a trailing dot is allowed.
        var previous: UInt8 = UInt8(ascii: ".")
        for byte in slice {
            if byte == UInt8(ascii: "."), previous == UInt8(ascii: ".") { return nil }
            if byte == UInt8(ascii: "-"), previous == UInt8(ascii: ".") { return nil }
            previous = byte
        }
        return .hostname(text)
    }

    /// A dotted-quad IPv4 address (§25.1 `IPv4address`) as one number, first octet highest, or nil:
    /// `ipv4Octets` without an array.
    static func ipv4Value(_ bytes: some Sequence<UInt8>) -> UInt32? {
        var address: UInt32 = 0
        var octets = 0
        var value: UInt32 = 0
        var digits = 0
        for byte in bytes {
            if byte == UInt8(ascii: ".") {
                guard digits > 0, octets < 3 else { return nil }
                address = address << 8 | value
                octets += 1
                value = 0
                digits = 0
            } else if byte >= 0x30, byte <= 0x39 {
                value = value * 10 + UInt32(byte - 0x30)
                digits += 1
                guard digits <= 3, value <= 255 else { return nil }
            } else {
                return nil
            }
        }
        guard digits > 0, octets == 3 else { return nil }
        return address << 8 | value
    }

    /// `ipv4Value` of a string's bytes where they lie: walking the `utf8` view instead cost six times
    /// as much, and a proxy compares a few dozen hosts per call (Via sent-by, trunk and listener addresses).
    static func ipv4Value(of text: String) -> UInt32? {
        let inPlace: UInt32?? = text.utf8.withContiguousStorageIfAvailable { ipv4Value($0) }
        return inPlace ?? ipv4Value(text.utf8)
    }

    /// The four octets of a dotted-quad IPv4 address (§25.1 `IPv4address`), or nil.
    static func ipv4Octets(_ bytes: ArraySlice<UInt8>) -> [UInt8]? {
        var octets: [UInt8] = []
        var value = 0
        var digits = 0
        for byte in bytes {
            if byte == UInt8(ascii: ".") {
                guard digits > 0, octets.count < 3 else { return nil }
                octets.append(UInt8(value))
                value = 0
                digits = 0
            } else if byte >= 0x30, byte <= 0x39 {
                value = value * 10 + Int(byte - 0x30)
                digits += 1
                guard digits <= 3, value <= 255 else { return nil }
            } else {
                return nil
            }
        }
        guard digits > 0, octets.count == 3 else { return nil }
        octets.append(UInt8(value))
        return octets
    }

    /// The sixteen octets of an IPv6 address in text form (§25.1 `IPv6address`, RFC 4291 §2.2), or nil.
    static func ipv6Octets(_ bytes: ArraySlice<UInt8>) -> [UInt8]? {
        let text = Array(bytes)
        let count = text.count
        guard count >= 2, count <= 45 else { return nil }
        var head: [UInt16] = []
        var tail: [UInt16] = []
        var compressed = false
        var index = 0
        if text[0] == UInt8(ascii: ":") {
            guard text[1] == UInt8(ascii: ":") else { return nil }
            compressed = true
            index = 2
        }
        while index < count {
            let start = index
            while index < count, text[index] != UInt8(ascii: ":") { index += 1 }
            let group = text[start..<index]
            if group.contains(UInt8(ascii: ".")) {
                guard index == count, let quad = ipv4Octets(group) else { return nil }
                let words = [UInt16(quad[0]) << 8 | UInt16(quad[1]), UInt16(quad[2]) << 8 | UInt16(quad[3])]
                if compressed { tail += words } else { head += words }
                break
            }
            guard (1...4).contains(group.count) else { return nil }
            var word: UInt16 = 0
            for byte in group {
                guard let digit = ByteClass.hexValue(byte) else { return nil }
                word = word << 4 | UInt16(digit)
            }
            if compressed { tail.append(word) } else { head.append(word) }
            if index == count { break }
            index += 1
            if index < count, text[index] == UInt8(ascii: ":") {
                guard !compressed else { return nil }
                compressed = true
                index += 1
            } else if index == count {
                return nil
            }
        }
        let total = head.count + tail.count
        guard compressed ? total <= 7 : total == 8 else { return nil }
        let words = head + [UInt16](repeating: 0, count: 8 - total) + tail
        return words.flatMap { [UInt8($0 >> 8), UInt8($0 & 0xFF)] }
    }
}
