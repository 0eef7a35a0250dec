import DatagramIO
import STUN
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Sockets that send from a twin (`DatagramSocketOptions.sendsFromTwin`): everything that
/// arrives still reaches the socket the loop reads, replies leave from the same port, and the
/// port is as much the loop's own as a plain socket's.
@Suite("DatagramLoop send twins")
struct SendTwinTests {
    typealias Probe = DatagramLoopTests.Probe

    typealias Collector = ReceiveTests.Collector

    /// Whether a plain socket (no SO_REUSEPORT), as another program would open, can bind
    /// 127.0.0.1:`port`.
    static func plainBind(_ port: UInt16) -> Bool {
        let descriptor = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        defer { close(descriptor) }
        var local = sockaddr_in()
        local.sin_family = sa_family_t(AF_INET)
        local.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
        local.sin_port = port.bigEndian
        return withUnsafePointer(to: &local) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
            }
        }
    }

    /// How many of this process's UDP sockets are bound to 127.0.0.1:`port` (a socket and its
    /// twin are two).
    static func socketsBound(to port: UInt16) -> Int {
        DatagramLoopTests.udpDescriptors(boundTo: port).count
    }

    @Test func aTwinOpensOnlyAfterItsSocketHasSentEnough() async throws {
        let loop = try DatagramLoop()
        let name = DatagramSocket.flow(DatagramLoopTests.anyPort)
        #expect(loop.open(name, at: DatagramLoopTests.anyPort, options: .init(sendsFromTwin: true, twinAfterSends: 5)))
        let port = try #require(loop.localPort(of: name))
        let collector = Collector()
        loop.receiver = collector
        loop.start()
        defer { loop.stop() }
        let probe = try DatagramLoopTests.Probe()
        #expect(Self.socketsBound(to: port) == 1, "no twin before the socket sends")

        // Three sends, then five in one batch: the socket sends five itself, the twin opens at
        // the sixth, while the fourth and fifth still wait in the queue; all eight leave in
        // order, from the port.
        await loop.submit {
            for index in 0..<3 {
                [UInt8(index)].withUnsafeBytes { loop.send(from: name, to: probe.address, payload: $0) }
            }
        }
        #expect(Self.socketsBound(to: port) == 1, "still no twin after three")
        await loop.submit {
            for index in 3..<8 {
                [UInt8(index)].withUnsafeBytes { loop.send(from: name, to: probe.address, payload: $0) }
            }
        }
        #expect(Self.socketsBound(to: port) == 2, "the twin is open after six")
        for index in 0..<8 {
            let reply = try #require(probe.receive(), "datagram \(index)")
            #expect(reply.bytes == [UInt8(index)])
            #expect(reply.sourcePort == port)
        }

        // What arrives still reaches the socket the loop reads, from any source.
        let probes = try (0..<32).map { _ in try DatagramLoopTests.Probe() }
        for (index, source) in probes.enumerated() { source.send([UInt8(index)], toPort: port) }
        let readings = collector.waitFor(probes.count)
        #expect(Set(readings.map(\.bytes)) == Set((0..<probes.count).map { [UInt8($0)] }))

        await loop.submit { loop.close(name) }
        #expect(Self.socketsBound(to: port) == 0)
        #expect(Self.plainBind(port))
    }

    @Test func closingRightAfterTheTwinOpensSendsWhatTheSocketQueuedItself() async throws {
        let loop = try DatagramLoop()
        let name = DatagramSocket.flow(DatagramLoopTests.anyPort)
        #expect(loop.open(name, at: DatagramLoopTests.anyPort, options: .init(sendsFromTwin: true, twinAfterSends: 2)))
        let port = try #require(loop.localPort(of: name))
        loop.start()
        defer { loop.stop() }
        let probe = try DatagramLoopTests.Probe()
        // Two queued on the socket itself; the third send opens the twin but is too big to
        // queue; then the socket closes within the same batch. Nothing waits on the twin, yet
        // the two go out before the socket's descriptors close (their numbers may be reused).
        await loop.submit {
            for index in 0..<2 {
                [UInt8(index)].withUnsafeBytes { loop.send(from: name, to: probe.address, payload: $0) }
            }
            [UInt8](repeating: 9, count: 70_000).withUnsafeBytes {
                loop.send(from: name, to: probe.address, payload: $0)
            }
            loop.close(name)
        }
        for index in 0..<2 {
            let datagram = try #require(probe.receive(), "datagram \(index)")
            #expect(datagram.bytes == [UInt8(index)])
            #expect(datagram.sourcePort == port)
        }
        #expect(Self.socketsBound(to: port) == 0)
        #expect(loop.sendFailures == 1, "only the one too big to send")
    }

    @Test(arguments: [DatagramSocket.flow(DatagramLoopTests.anyPort), .listener(DatagramLoopTests.anyPort)])
    func everyDatagramReachesTheReaderAndRepliesLeaveFromItsPort(_ name: DatagramSocket) async throws {
        let loop = try DatagramLoop()
        #expect(loop.open(name, at: DatagramLoopTests.anyPort, options: .init(sendsFromTwin: true)))
        let port = try #require(loop.localPort(of: name))
        let collector = Collector()
        loop.receiver = collector
        loop.start()
        defer { loop.stop() }

        // From 32 source ports: SO_REUSEPORT's own choice (a hash of the addresses) would hand
        // about half of them to the twin, which nobody reads.
        let probes = try (0..<32).map { _ in try Probe() }
        for (index, probe) in probes.enumerated() { probe.send([UInt8(index)], toPort: port) }
        let readings = collector.waitFor(probes.count)
        #expect(Set(readings.map(\.bytes)) == Set((0..<probes.count).map { [UInt8($0)] }))

        await loop.submit {
            for probe in probes {
                [UInt8(0xAA)].withUnsafeBytes { loop.send(from: name, to: probe.address, payload: $0) }
            }
        }
        for probe in probes {
            let reply = try #require(probe.receive())
            #expect(reply.bytes == [0xAA])
            #expect(reply.sourcePort == port)
        }

        // Another program's socket cannot take the port; closing frees both sockets of it.
        #expect(!Self.plainBind(port))
        await loop.submit { loop.close(name) }
        #expect(Self.plainBind(port))
    }
}
