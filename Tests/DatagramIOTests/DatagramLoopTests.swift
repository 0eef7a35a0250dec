import DatagramIO
import STUN
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// What the loop sends, seen from a plain socket: the bytes and the source port, on loopback.
@Suite("DatagramLoop sending")
struct DatagramLoopTests {
    /// A blocking UDP socket on 127.0.0.1 with a short receive timeout.
    final class Probe: Sendable {
        let descriptor: CInt
        let address: TransportAddress

        init() throws {
            let descriptor = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
            self.descriptor = descriptor
            var local = sockaddr_in()
            local.sin_family = sa_family_t(AF_INET)
            local.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
            var length = socklen_t(MemoryLayout<sockaddr_in>.size)
            let bound = withUnsafeMutablePointer(to: &local) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    bind(descriptor, $0, length) == 0 && getsockname(descriptor, $0, &length) == 0
                }
            }
            try #require(bound)
            var timeout = timeval(tv_sec: 0, tv_usec: 300_000)
            setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
            address = TransportAddress(ipv4: (127, 0, 0, 1), port: UInt16(bigEndian: local.sin_port))
        }

        deinit { close(descriptor) }

        /// Sends `bytes` to 127.0.0.1:`port`.
        func send(_ bytes: [UInt8], toPort port: UInt16) {
            var destination = sockaddr_in()
            destination.sin_family = sa_family_t(AF_INET)
            destination.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
            destination.sin_port = port.bigEndian
            _ = bytes.withUnsafeBytes { payload in
                withUnsafePointer(to: &destination) {
                    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                        sendto(
                            descriptor, payload.baseAddress, payload.count, 0, $0,
                            socklen_t(MemoryLayout<sockaddr_in>.size))
                    }
                }
            }
        }

        /// The next datagram and its source port, or nil after the timeout.
        func receive() -> (bytes: [UInt8], sourcePort: UInt16)? {
            var buffer = [UInt8](repeating: 0, count: 65_536)
            var source = sockaddr_in()
            var length = socklen_t(MemoryLayout<sockaddr_in>.size)
            let count = buffer.withUnsafeMutableBytes { bytes in
                withUnsafeMutablePointer(to: &source) {
                    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                        recvfrom(descriptor, bytes.baseAddress, bytes.count, 0, $0, &length)
                    }
                }
            }
            guard count >= 0 else { return nil }
            return (Array(buffer.prefix(count)), UInt16(bigEndian: source.sin_port))
        }
    }

    static let anyPort = TransportAddress(ipv4: (127, 0, 0, 1), port: 0)

    /// This process's IPv4 UDP sockets bound to `port`, found by their names (the loop keeps
    /// its descriptors to itself).
    static func udpDescriptors(boundTo port: UInt16) -> [CInt] {
        (CInt(3)..<CInt(4096)).filter { descriptor in
            var local = sockaddr_in()
            var length = socklen_t(MemoryLayout<sockaddr_in>.size)
            let named = withUnsafeMutablePointer(to: &local) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(descriptor, $0, &length) }
            }
            var type: CInt = 0
            var typeLength = socklen_t(MemoryLayout<CInt>.size)
            return named == 0 && local.sin_family == sa_family_t(AF_INET) && UInt16(bigEndian: local.sin_port) == port
                && getsockopt(descriptor, SOL_SOCKET, SO_TYPE, &type, &typeLength) == 0
                && type == SOCK_DGRAM.rawValue
        }
    }

    static func send(_ bytes: [UInt8], from socket: DatagramSocket, on loop: DatagramLoop, to probe: Probe) {
        bytes.withUnsafeBytes { loop.send(from: socket, to: probe.address, payload: $0) }
        loop.flush()
    }

    @Test func aSocketReopenedUnderTheSameNameSendsFromItsNewPort() throws {
        let loop = try DatagramLoop()
        let probe = try Probe()
        let name = DatagramSocket.flow(Self.anyPort)
        #expect(loop.open(name, at: Self.anyPort))
        let firstPort = try #require(loop.localPort(of: name))
        Self.send([1, 2, 3], from: name, on: loop, to: probe)
        let first = try #require(probe.receive())
        #expect(first.bytes == [1, 2, 3])
        #expect(first.sourcePort == firstPort)

        // Closed, another socket takes its descriptor number, then the name is opened again on
        // a new port: each send leaves by the socket that now has the name, none by a stale one.
        loop.close(name)
        let other = DatagramSocket.listener(Self.anyPort)
        #expect(loop.open(other, at: Self.anyPort))
        let otherPort = try #require(loop.localPort(of: other))
        Self.send([9], from: name, on: loop, to: probe)
        #expect(probe.receive() == nil, "a closed socket sends nothing")
        Self.send([4, 5], from: other, on: loop, to: probe)
        let fromOther = try #require(probe.receive())
        #expect(fromOther.bytes == [4, 5])
        #expect(fromOther.sourcePort == otherPort)

        #expect(loop.open(name, at: Self.anyPort))
        let secondPort = try #require(loop.localPort(of: name))
        #expect(secondPort != otherPort)
        Self.send([6, 7, 8], from: name, on: loop, to: probe)
        let second = try #require(probe.receive())
        #expect(second.bytes == [6, 7, 8])
        #expect(second.sourcePort == secondPort)
    }

    @Test func aBatchOfDatagramsOfEverySizeArrivesWholeAndInOrder() throws {
        let loop = try DatagramLoop()
        let probe = try Probe()
        let name = DatagramSocket.listener(Self.anyPort)
        #expect(loop.open(name, at: Self.anyPort))
        // More than one flush's worth (64), packed one after another in the send slab: sizes
        // that end mid cache line, a prefix written in place, and padding.
        let sizes = [1, 700, 1_400, 63, 64, 3_000, 0, 65]
        var expected: [[UInt8]] = []
        for index in 0..<70 {
            let size = sizes[index % sizes.count]
            let payload = [UInt8](repeating: UInt8(index), count: size)
            if index % 3 == 0 {
                payload.withUnsafeBytes { loop.send(from: name, to: probe.address, payload: $0) }
                expected.append(payload)
            } else {
                payload.withUnsafeBytes {
                    loop.send(
                        from: name, to: probe.address, header: 0x4000_0000 | UInt32(size), payload: $0, padding: 3)
                }
                expected.append([0x40, 0x00, UInt8(size >> 8), UInt8(size & 0xFF)] + payload + [0, 0, 0])
            }
        }
        loop.flush()
        for (index, bytes) in expected.enumerated() {
            guard let received = probe.receive() else {
                Issue.record("datagram \(index) of \(expected.count) did not arrive (\(loop.sendFailures) failed)")
                return
            }
            #expect(received.bytes == bytes, "datagram \(index)")
        }
        #expect(loop.sendFailures == 0)
    }

    @Test func sendsAlternatingBetweenSocketsKeepTheirSources() throws {
        let loop = try DatagramLoop()
        let probe = try Probe()
        // Two names for two sockets (one of each kind, both on an ephemeral port).
        var sockets: [(name: DatagramSocket, port: UInt16)] = []
        for name in [DatagramSocket.flow(Self.anyPort), .listener(Self.anyPort)] {
            #expect(loop.open(name, at: Self.anyPort))
            sockets.append((name, try #require(loop.localPort(of: name))))
        }
        #expect(sockets[0].port != sockets[1].port)
        for round in 0..<4 {
            for (index, socket) in sockets.enumerated() {
                // Twice in a row from each, then the other: the repeated and the changed socket.
                for copy in 0..<2 {
                    let bytes = [UInt8(round), UInt8(index), UInt8(copy)]
                    Self.send(bytes, from: socket.name, on: loop, to: probe)
                    let received = try #require(probe.receive())
                    #expect(received.bytes == bytes)
                    #expect(received.sourcePort == socket.port)
                }
            }
        }
    }
}
