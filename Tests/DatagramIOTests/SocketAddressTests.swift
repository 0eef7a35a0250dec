import DatagramIO
import STUN
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// The conversions between `TransportAddress` and the kernel's socket addresses, which the loop
/// makes for every datagram it reads and sends: checked against inet_pton(3)'s bytes, not
/// only against each other.
@Suite("Socket addresses")
struct SocketAddressTests {
    static let samples: [(text: String, port: UInt16)] = [
        ("192.0.2.1", 3478), ("0.0.0.0", 0), ("255.255.255.255", 65535), ("127.0.0.2", 36490),
        ("2001:db8::1", 5349), ("::", 1), ("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 65535),
        ("::ffff:198.51.100.7", 40000), ("fe80::1:2:3:4", 12345),
    ]

    @Test("an address written for the kernel has inet_pton's bytes and the port in network order", arguments: samples)
    func writtenAddressMatchesInetPton(sample: (text: String, port: UInt16)) throws {
        let address = try #require(TransportAddress(text: sample.text, port: sample.port))
        var storage = sockaddr_storage()
        let length = address.write(into: &storage)
        let expected = Self.kernelAddress(sample.text, port: sample.port)
        #expect(Int(length) == expected.count)
        let written = withUnsafeBytes(of: &storage) { Array($0.prefix(Int(length))) }
        #expect(written == expected)
    }

    @Test("an address read from the kernel is the one its text names", arguments: samples)
    func readAddressMatchesText(sample: (text: String, port: UInt16)) throws {
        var storage = sockaddr_storage()
        let bytes = Self.kernelAddress(sample.text, port: sample.port)
        withUnsafeMutableBytes(of: &storage) { $0.copyBytes(from: bytes) }
        let read = try #require(TransportAddress(pointer: &storage))
        #expect(read == TransportAddress(text: sample.text, port: sample.port))
        #expect(read.host.count == (read.family == .ipv4 ? 4 : 16))
        #expect(read.address == TransportAddress(text: sample.text, port: sample.port)?.address)
    }

    @Test("a family other than IPv4 and IPv6 is not an address")
    func otherFamilyIsRefused() {
        var storage = sockaddr_storage()
        storage.ss_family = sa_family_t(AF_UNIX)
        #expect(TransportAddress(pointer: &storage) == nil)
    }

    /// The sockaddr_in or sockaddr_in6 of `text`, built with inet_pton(3), as bytes (an address
    /// inet_pton does not take fails the calling test).
    static func kernelAddress(_ text: String, port: UInt16) -> [UInt8] {
        if text.contains(":") {
            var raw = sockaddr_in6()
            raw.sin6_family = sa_family_t(AF_INET6)
            raw.sin6_port = port.bigEndian
            #expect(inet_pton(AF_INET6, text, &raw.sin6_addr) == 1, "inet_pton: \(text)")
            return withUnsafeBytes(of: &raw) { Array($0) }
        }
        var raw = sockaddr_in()
        raw.sin_family = sa_family_t(AF_INET)
        raw.sin_port = port.bigEndian
        #expect(inet_pton(AF_INET, text, &raw.sin_addr) == 1, "inet_pton: \(text)")
        return withUnsafeBytes(of: &raw) { Array($0) }
    }
}
