import DatagramIO
import STUN
import Synchronization
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// What the loop reads, seen by its receiver: a flow socket's lone datagrams (recvfrom(2)) and
/// bursts (recvmmsg(2) once the socket is busy), and a listener's batches, all whole, in order,
/// with their source.
@Suite("DatagramLoop receiving")
struct ReceiveTests {
    typealias Probe = DatagramLoopTests.Probe

    /// Collects what the loop reads, on the loop's thread (the send-twin tests use it too).
    final class Collector: DatagramReceiver, Sendable {
        struct Reading: Equatable {
            var bytes: [UInt8]
            var sourcePort: UInt16
            var socket: DatagramSocket
        }
        let readings = Mutex<[Reading]>([])
        func datagram(_ payload: UnsafeRawBufferPointer, from source: TransportAddress, on socket: DatagramSocket) {
            readings.withLock { $0.append(Reading(bytes: Array(payload), sourcePort: source.port, socket: socket)) }
        }
        func tick() {}

        /// Waits (2 s at most) until `count` datagrams have been read; returns what was read.
        func waitFor(_ count: Int) -> [Reading] {
            for _ in 0..<200 where readings.withLock({ $0.count }) < count { usleep(10_000) }
            return readings.withLock { $0 }
        }
    }

    /// The largest UDP payload over IPv4 (65,535 − 20 − 8), an empty one, and sizes between.
    static let sizes = [0, 1, 172, 1_232, 1_500, 9_000, 65_507]

    static func payload(_ index: Int, size: Int) -> [UInt8] {
        (0..<size).map { UInt8(truncatingIfNeeded: $0 &+ index) }
    }

    /// Datagrams sent one at a time, each read before the next is sent, to a flow socket and a
    /// listener in turn. The flow socket is read in every other round of the loop, so it is
    /// never busy (read in the round before) and takes its single-read path from its second
    /// datagram on; the listener is always read in batches.
    @Test func datagramsOfEverySizeArriveWholeWithTheirSource() throws {
        let loop = try DatagramLoop()
        let flow = DatagramSocket.flow(DatagramLoopTests.anyPort)
        let listener = DatagramSocket.listener(DatagramLoopTests.anyPort)
        #expect(loop.open(flow, at: DatagramLoopTests.anyPort))
        #expect(loop.open(listener, at: DatagramLoopTests.anyPort))
        let flowPort = try #require(loop.localPort(of: flow))
        let listenerPort = try #require(loop.localPort(of: listener))
        let collector = Collector()
        loop.receiver = collector
        loop.start()
        defer { loop.stop() }
        let probe = try Probe()
        for (index, size) in Self.sizes.enumerated() {
            probe.send(Self.payload(index, size: size), toPort: flowPort)
            _ = collector.waitFor(2 * index + 1)
            probe.send(Self.payload(index, size: size), toPort: listenerPort)
            _ = collector.waitFor(2 * index + 2)
        }
        let readings = collector.waitFor(2 * Self.sizes.count)
        #expect(readings.count == 2 * Self.sizes.count)
        for (index, reading) in readings.enumerated() {
            #expect(reading.bytes == Self.payload(index / 2, size: Self.sizes[index / 2]), "datagram \(index)")
            #expect(reading.sourcePort == probe.address.port)
            #expect(reading.socket == (index % 2 == 0 ? flow : listener))
        }
    }

    /// A burst queued on a flow socket before the loop reads it: the first read takes one, the
    /// socket is then busy and read in batches; none is lost or reordered.
    @Test func aBurstOnAFlowSocketArrivesWholeAndInOrder() throws {
        let loop = try DatagramLoop()
        let name = DatagramSocket.flow(DatagramLoopTests.anyPort)
        #expect(loop.open(name, at: DatagramLoopTests.anyPort))
        let port = try #require(loop.localPort(of: name))
        let probe = try Probe()
        // Queued before the loop runs, so the first wake finds all of them waiting (100 small
        // datagrams stay well within the default receive buffer).
        let count = 100
        for index in 0..<count { probe.send(Self.payload(index, size: 100 + index), toPort: port) }
        let collector = Collector()
        loop.receiver = collector
        loop.start()
        defer { loop.stop() }
        let readings = collector.waitFor(count)
        #expect(readings.map(\.bytes) == (0..<count).map { Self.payload($0, size: 100 + $0) })
    }
}
