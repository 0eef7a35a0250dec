import STUN
import Testing

@testable import DatagramIO

#if canImport(Glibc)
    import Glibc
#endif

/// Datagrams queued back to back for one destination out of one socket leave as one segmented
/// send (UDP_SEGMENT); the receiver must still get each datagram on its own, whole and in
/// order, and a kernel that refuses to segment must cost nothing but the saving.
@Suite("DatagramLoop segmented sends")
struct SegmentedSendTests {
    typealias Probe = DatagramLoopTests.Probe
    static let anyPort = DatagramLoopTests.anyPort

    /// A queue of sends and what the probes must read, in order, for each.
    struct Script {
        var toFirst: [[UInt8]] = []
        var toSecond: [[UInt8]] = []
        /// Queues `count` datagrams of `size` bytes to `probe`, each with bytes of its own; with
        /// a ChannelData-like `header` when asked.
        mutating func queue(
            _ count: Int, of size: Int, to probe: Probe, first: Bool, header: Bool = false, from name: DatagramSocket,
            on loop: DatagramLoop
        ) {
            for _ in 0..<count {
                let tag = UInt8(truncatingIfNeeded: toFirst.count + toSecond.count)
                let payload = (0..<size).map { UInt8(truncatingIfNeeded: $0) &+ tag }
                var expected = payload
                if header {
                    let word = 0x4000_0000 | UInt32(size)
                    payload.withUnsafeBytes { loop.send(from: name, to: probe.address, header: word, payload: $0) }
                    expected = [0x40, 0x00, UInt8(size >> 8), UInt8(size & 0xFF)] + payload
                } else {
                    payload.withUnsafeBytes { loop.send(from: name, to: probe.address, payload: $0) }
                }
                if first { toFirst.append(expected) } else { toSecond.append(expected) }
            }
        }
    }

    /// A probe whose receive buffer holds a few hundred small datagrams (as root, beyond
    /// net.core.rmem_max), so a long script does not overflow it.
    static func roomyProbe() throws -> Probe {
        let probe = try Probe()
        var size: CInt = 4 << 20
        if setsockopt(probe.descriptor, SOL_SOCKET, SO_RCVBUFFORCE, &size, socklen_t(MemoryLayout<CInt>.size)) != 0 {
            _ = setsockopt(probe.descriptor, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<CInt>.size))
        }
        return probe
    }

    static func expectArrivals(_ expected: [[UInt8]], at probe: Probe, from port: UInt16, _ label: String) {
        for (index, bytes) in expected.enumerated() {
            guard let received = probe.receive() else {
                Issue.record("\(label): datagram \(index) of \(expected.count) did not arrive")
                return
            }
            #expect(received.bytes == bytes, "\(label): datagram \(index)")
            #expect(received.sourcePort == port)
        }
        #expect(probe.receive() == nil, "\(label): nothing more, no datagram glued to another")
    }

    @Test func runsOfEqualDatagramsLeaveTogetherAndArriveApart() throws {
        let loop = try DatagramLoop()
        let name = DatagramSocket.listener(Self.anyPort)
        #expect(loop.open(name, at: Self.anyPort))
        let port = try #require(loop.localPort(of: name))
        let first = try Self.roomyProbe()
        let second = try Self.roomyProbe()
        var script = Script()
        // 150 alike: sends of 64, 64 and 22 datagrams (at most 64 per send).
        script.queue(150, of: 172, to: first, first: true, from: name, on: loop)
        // A shorter one may end a run (it joins the 22) …
        script.queue(1, of: 100, to: first, first: true, from: name, on: loop)
        // … and nothing joins after it, not even datagrams of the run's size (168 bytes and a
        // 4-byte header): these three are a send of their own.
        script.queue(3, of: 168, to: first, first: true, header: true, from: name, on: loop)
        // Another destination in between ends the run too.
        script.queue(1, of: 172, to: second, first: false, from: name, on: loop)
        script.queue(2, of: 200, to: first, first: true, from: name, on: loop)
        // An empty datagram would vanish as a segment: it is a send of its own.
        script.queue(1, of: 0, to: first, first: true, from: name, on: loop)
        // Longer than the run's first: a send of its own.
        script.queue(1, of: 300, to: first, first: true, from: name, on: loop)
        loop.flush()
        // 159 datagrams in 8 sends (64, 64, 23, 3, 1, 2, 1, 1): 151 joined a send before them.
        #expect(loop.segmentedDatagrams == (63 + 63 + 22) + 2 + 1)
        #expect(loop.sendFailures == 0)
        #expect(loop.segmentsSends)
        Self.expectArrivals(script.toFirst, at: first, from: port, "first")
        Self.expectArrivals(script.toSecond, at: second, from: port, "second")
    }

    /// Multicast destinations are never sent segmented (`TransportAddress.isMulticast`, read
    /// when a send could begin a run): the edges of both families' group ranges.
    @Test func multicastGroupsAreToldApartAtTheEdgesOfTheirRanges() {
        let groups = [
            TransportAddress(ipv4: (224, 0, 0, 0), port: 5004),
            TransportAddress(ipv4: (239, 255, 255, 255), port: 5004),
            TransportAddress(
                family: .ipv6, host: IPHost([0xFF, 0x02] + Array(repeating: 0, count: 13) + [1]), port: 5004),
        ]
        let unicast = [
            TransportAddress(ipv4: (223, 255, 255, 255), port: 5004),
            TransportAddress(ipv4: (240, 0, 0, 0), port: 5004),
            TransportAddress(ipv4: (127, 0, 0, 1), port: 5004),
            TransportAddress(
                family: .ipv6, host: IPHost([0xFE, 0x80] + Array(repeating: 0, count: 13) + [1]), port: 5004),
        ]
        for group in groups { #expect(group.isMulticast, "\(group)") }
        for address in unicast { #expect(!address.isMulticast, "\(address)") }
    }

    @Test func twoSocketsToOneDestinationNeverShareASend() throws {
        let loop = try DatagramLoop()
        let names = [DatagramSocket.flow(Self.anyPort), .listener(Self.anyPort)]
        var ports: [UInt16] = []
        for name in names {
            #expect(loop.open(name, at: Self.anyPort))
            ports.append(try #require(loop.localPort(of: name)))
        }
        let probe = try Probe()
        var expected: [(bytes: [UInt8], port: UInt16)] = []
        for index in 0..<12 {
            // Two from one socket, then two from the other: alike in size and destination.
            let socket = (index / 2) % 2
            let payload = [UInt8](repeating: UInt8(index), count: 160)
            payload.withUnsafeBytes { loop.send(from: names[socket], to: probe.address, payload: $0) }
            expected.append((payload, ports[socket]))
        }
        loop.flush()
        #expect(loop.segmentedDatagrams == 6)
        for (index, datagram) in expected.enumerated() {
            let received = try #require(probe.receive(), "datagram \(index)")
            #expect(received.bytes == datagram.bytes, "datagram \(index)")
            #expect(received.sourcePort == datagram.port, "datagram \(index)")
        }
    }

    /// The descriptor of the loop's IPv4 socket bound to `port` (found by its name, as the
    /// loop keeps its descriptors to itself).
    static func descriptor(boundTo port: UInt16) -> CInt? {
        DatagramLoopTests.udpDescriptors(boundTo: port).first
    }

    @Test func aKernelThatWillNotSegmentGetsTheDatagramsOneByOne() throws {
        let loop = try DatagramLoop()
        let name = DatagramSocket.flow(Self.anyPort)
        #expect(loop.open(name, at: Self.anyPort))
        let port = try #require(loop.localPort(of: name))
        // A socket that sends without UDP checksums cannot segment (the kernel answers EINVAL),
        // as one whose device has no checksum offload could not before Linux 6.2 (EIO).
        let descriptor = try #require(Self.descriptor(boundTo: port))
        var on: CInt = 1
        #expect(setsockopt(descriptor, SOL_SOCKET, SO_NO_CHECK, &on, socklen_t(MemoryLayout<CInt>.size)) == 0)
        let probe = try Probe()
        var script = Script()
        script.queue(20, of: 172, to: probe, first: true, from: name, on: loop)
        script.queue(1, of: 40, to: probe, first: true, from: name, on: loop)
        loop.flush()
        #expect(!loop.segmentsSends, "the refusal is remembered")
        #expect(loop.sendFailures == 0)
        Self.expectArrivals(script.toFirst, at: probe, from: port, "fallback")

        // From then on nothing is joined.
        let joined = loop.segmentedDatagrams
        script.toFirst = []
        script.queue(5, of: 172, to: probe, first: true, from: name, on: loop)
        loop.flush()
        #expect(loop.segmentedDatagrams == joined)
        Self.expectArrivals(script.toFirst, at: probe, from: port, "after")
    }
}
