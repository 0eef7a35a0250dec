#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// Textual IPv4/IPv6 addresses as they appear in the configuration, checked with `inet_pton`.
public enum IPAddressText {
    public enum Family: Sendable { case v4, v6 }

    public static func family(of text: String) -> Family? {
        var v4 = in_addr()
        if inet_pton(AF_INET, text, &v4) == 1 { return .v4 }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, text, &v6) == 1 { return .v6 }
        return nil
    }

    /// The unspecified address in any spelling (`0.0.0.0`, `::`, `::0`, `0:0::0`): every
    /// address of the box.
    public static func isWildcard(_ text: String) -> Bool {
        var v4 = in_addr()
        if inet_pton(AF_INET, text, &v4) == 1 { return v4.s_addr == 0 }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, text, &v6) == 1 { return withUnsafeBytes(of: &v6) { $0.allSatisfy { $0 == 0 } } }
        return false
    }

    /// 127.0.0.0/8 or ::1: only this machine can reach it.
    public static func isLoopback(_ text: String) -> Bool {
        switch family(of: text) {
        case .v4: return text.hasPrefix("127.")
        case .v6:
            var address = in6_addr()
            _ = inet_pton(AF_INET6, text, &address)
            return withUnsafeBytes(of: &address) { bytes in
                bytes.prefix(15).allSatisfy { $0 == 0 } && bytes[15] == 1
            }
        case nil: return text == "localhost"
        }
    }

    /// Two bind addresses collide when they are equal or either is a wildcard of a
    /// family that covers the other (Linux binds `::` dual-stack by default).
    static func overlaps(_ lhs: String, _ rhs: String) -> Bool {
        if lhs == rhs { return true }
        let lhsWildcard = isWildcard(lhs)
        let rhsWildcard = isWildcard(rhs)
        if lhsWildcard, family(of: lhs) == .v6 || family(of: lhs) == family(of: rhs) { return true }
        if rhsWildcard, family(of: rhs) == .v6 || family(of: rhs) == family(of: lhs) { return true }
        return false
    }
}
