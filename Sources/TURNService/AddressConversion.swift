import NIOCore
import STUN

#if canImport(Glibc)
    import Glibc
#endif

extension TransportAddress {
    /// The address of a NIO socket address; nil for Unix sockets.
    init?(_ address: SocketAddress) {
        switch address {
        case .v4(let v4):
            let raw = v4.address.sin_addr.s_addr  // network order in memory
            self.init(
                family: .ipv4, host: withUnsafeBytes(of: raw) { IPHost(rawBytes: $0) },
                port: UInt16(bigEndian: v4.address.sin_port))
        case .v6(let v6):
            var raw = v6.address.sin6_addr
            self.init(
                family: .ipv6, host: withUnsafeBytes(of: &raw) { IPHost(rawBytes: $0) },
                port: UInt16(bigEndian: v6.address.sin6_port))
        case .unixDomainSocket:
            return nil
        }
    }

    /// The NIO socket address, built from the bytes without going through text.
    var socketAddress: SocketAddress {
        switch family {
        case .ipv4:
            var raw = sockaddr_in()
            raw.sin_family = sa_family_t(AF_INET)
            raw.sin_port = port.bigEndian
            withUnsafeMutableBytes(of: &raw.sin_addr) { target in host.withUnsafeBytes { target.copyBytes(from: $0) } }
            return SocketAddress(raw, host: "")
        case .ipv6:
            var raw = sockaddr_in6()
            raw.sin6_family = sa_family_t(AF_INET6)
            raw.sin6_port = port.bigEndian
            withUnsafeMutableBytes(of: &raw.sin6_addr) { target in host.withUnsafeBytes { target.copyBytes(from: $0) } }
            return SocketAddress(raw, host: "")
        }
    }
}
