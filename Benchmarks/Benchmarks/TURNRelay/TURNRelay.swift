import Benchmark
import Configuration
import Logging
import STUN
import ServiceLifecycle
import TURNService

#if canImport(Glibc)
    import Glibc
#endif

/// The TURN relay's data path, in process and on real loopback sockets: a client sends a
/// ChannelData datagram to stagedoor-turn, which relays it to a peer; the peer answers to the
/// relayed address and stagedoor-turn sends it back to the client as ChannelData. Two relayed
/// datagrams per iteration. The same with a Send indication to a second peer, which has a
/// permission but no channel, and its answer as a Data indication. The anchor, measured in the same run, is the same exchange with
/// no relay in between (client → peer → client): the kernel's own cost of four system calls.
///
/// `mallocCountTotal` counts every allocation in the process, on every thread: the relay's
/// goal is 0 per iteration.
let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .cpuTotal, .mallocCountTotal, .throughput],
        scalingFactor: .kilo,
        maxDuration: .seconds(10),
        maxIterations: 20
    )

    Benchmark("Anchor: loopback UDP round trip, no relay") { benchmark in
        let harness = RelayHarness.shared
        for _ in benchmark.scaledIterations {
            blackHole(harness.directRoundTrip())
        }
    }

    Benchmark("stagedoor-turn: ChannelData round trip (2 relayed datagrams)") { benchmark in
        let harness = RelayHarness.shared
        for _ in benchmark.scaledIterations {
            blackHole(harness.relayedRoundTrip())
        }
    }

    Benchmark("stagedoor-turn: Send/Data indication round trip (2 relayed datagrams)") { benchmark in
        let harness = RelayHarness.shared
        for _ in benchmark.scaledIterations {
            blackHole(harness.indicationRoundTrip())
        }
    }
}

/// One stagedoor-turn with an allocation and a channel bound, and the two sockets around it.
final class RelayHarness: @unchecked Sendable {
    static let shared = RelayHarness()

    static let payloadLength = 172
    static let channel: UInt16 = 0x4000
    private let client: CInt
    private let peer: CInt
    /// A peer on the same host as `peer` (so covered by its permission) without a channel.
    private let indicationPeer: CInt
    private var server = sockaddr_in()
    private var peerAddress = sockaddr_in()
    private var indicationPeerAddress = sockaddr_in()
    private var sendIndication: [UInt8] = []
    private var relayedAddress = sockaddr_in()
    private let frame: UnsafeMutableRawBufferPointer
    private let receive: UnsafeMutableRawBufferPointer
    private(set) var lost = 0

    private init() {
        frame = .allocate(byteCount: 4 + Self.payloadLength, alignment: 4)
        receive = .allocate(byteCount: 65_536, alignment: 4)
        for index in 0..<frame.count { frame[index] = UInt8(truncatingIfNeeded: index) }
        frame[0] = UInt8(Self.channel >> 8)
        frame[1] = UInt8(Self.channel & 0xFF)
        frame[2] = UInt8(Self.payloadLength >> 8)
        frame[3] = UInt8(Self.payloadLength & 0xFF)

        client = Self.udpSocket(bindTo: "127.0.0.1")
        peer = Self.udpSocket(bindTo: "127.0.0.2")
        peerAddress = Self.localAddress(of: peer)
        indicationPeer = Self.udpSocket(bindTo: "127.0.0.2")
        indicationPeerAddress = Self.localAddress(of: indicationPeer)
        Self.clientAddress = Self.localAddress(of: client)
        let port = Self.freePort()
        server = Self.address("127.0.0.1", port)
        Self.startServer(port: port)
        relayedAddress = allocateAndBind()
        let target = TransportAddress(ipv4: (127, 0, 0, 2), port: UInt16(bigEndian: indicationPeerAddress.sin_port))
        sendIndication = STUNMessage(
            method: .send, messageClass: .indication,
            attributes: [.xorPeerAddress(target), .data(Array(frame[4...]))]
        ).encode()
    }

    // MARK: Measured

    /// client → peer → client, straight through the kernel.
    func directRoundTrip() -> Int {
        let payload = UnsafeRawBufferPointer(rebasing: frame[4...])
        sendTo(client, payload, &peerAddress)
        let atPeer = recv(peer, receive.baseAddress, receive.count, 0)
        sendTo(peer, UnsafeRawBufferPointer(start: receive.baseAddress, count: max(0, atPeer)), &Self.clientAddress)
        let back = recv(client, receive.baseAddress, receive.count, 0)
        if back != Self.payloadLength { lost += 1 }
        return back
    }

    /// client → stagedoor-turn → peer → stagedoor-turn → client.
    func relayedRoundTrip() -> Int {
        sendTo(client, UnsafeRawBufferPointer(frame), &server)
        let atPeer = recv(peer, receive.baseAddress, receive.count, 0)
        sendTo(peer, UnsafeRawBufferPointer(start: receive.baseAddress, count: max(0, atPeer)), &relayedAddress)
        let back = recv(client, receive.baseAddress, receive.count, 0)
        if back != 4 + Self.payloadLength { lost += 1 }
        return back
    }

    /// client → Send indication → stagedoor-turn → peer → stagedoor-turn → Data indication → client.
    func indicationRoundTrip() -> Int {
        sendIndication.withUnsafeBytes { sendTo(client, $0, &server) }
        let atPeer = recv(indicationPeer, receive.baseAddress, receive.count, 0)
        sendTo(
            indicationPeer, UnsafeRawBufferPointer(start: receive.baseAddress, count: max(0, atPeer)), &relayedAddress)
        let back = recv(client, receive.baseAddress, receive.count, 0)
        // 20 bytes of header, XOR-PEER-ADDRESS (12), DATA's header (4), the payload.
        if back != 36 + Self.payloadLength { lost += 1 }
        return back
    }

    private func sendTo(_ socket: CInt, _ bytes: UnsafeRawBufferPointer, _ destination: inout sockaddr_in) {
        _ = withUnsafePointer(to: &destination) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                sendto(socket, bytes.baseAddress, bytes.count, 0, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
    }

    // MARK: Setup (allocates freely)

    nonisolated(unsafe) static var clientAddress = sockaddr_in()

    private static func startServer(port: UInt16) {
        let yaml = """
            runtime_dir: /tmp
            turn:
              realm: bench.test
              listeners:
                - {transport: udp, address: 127.0.0.1, port: \(port)}
              relay: {address: 127.0.0.1, port_min: 46000, port_max: 46999}
              auth:
                secrets: []
                users: [{name: bench, password: bench-password}]
              peers: {allow: [127.0.0.2/32], deny: []}
              limits:
                bandwidth_per_allocation_kbps: 0
                unauthenticated_per_second: 0
            bridge:
              whip: {transport: tcp, address: 127.0.0.1, port: 18889}
              media: {address: 127.0.0.1, port_min: 47000, port_max: 47099}
              ng: {address: 127.0.0.1, port: 32222}
            sip:
              listeners:
                - {transport: udp, address: 127.0.0.1, port: 15060}
            """
        do {
            let configuration = try ConfigurationLoader.parse(yaml, baseDirectory: "/tmp")
            var logger = Logger(label: "bench")
            logger.logLevel = .error
            let service = try TURNRelayService(configuration: configuration, logger: logger)
            let group = ServiceGroup(services: [service], logger: logger)
            Task.detached { try await group.run() }
            for _ in 0..<500 {
                if Self.probe(port: port) { return }
                usleep(10_000)
            }
            fatalError("stagedoor-turn did not answer on 127.0.0.1:\(port)")
        } catch {
            fatalError("cannot start stagedoor-turn: \(error)")
        }
    }

    /// A Binding request answered: the listener is up.
    private static func probe(port: UInt16) -> Bool {
        let socket = udpSocket(bindTo: "127.0.0.1", timeoutMilliseconds: 20)
        defer { close(socket) }
        var server = address("127.0.0.1", port)
        let request = STUNMessage(method: .binding, messageClass: .request).encode()
        return exchange(socket, request, &server) != nil
    }

    private func allocateAndBind() -> sockaddr_in {
        let allocate = STUNMessage(method: .allocate, messageClass: .request, attributes: [.requestedTransport(17)])
        guard let challenge = Self.exchange(client, allocate.encode(), &server), let nonce = challenge.nonce,
            let realm = challenge.realm
        else { fatalError("no 401 challenge") }
        let key = STUNCredentials.longTermKey(username: "bench", realm: realm, password: "bench-password")
        let auth: [STUNAttribute] = [.username("bench"), .realm(realm), .nonce(nonce)]
        var request = STUNMessage(
            method: .allocate, messageClass: .request, attributes: [.requestedTransport(17)] + auth)
        guard let allocated = Self.exchange(client, request.encode(integrity: STUNIntegrity(key: key)), &server),
            let relayed = allocated.xorRelayedAddress
        else { fatalError("Allocate failed") }
        let peerText = TransportAddress(ipv4: (127, 0, 0, 2), port: UInt16(bigEndian: peerAddress.sin_port))
        request = STUNMessage(
            method: .channelBind, messageClass: .request,
            attributes: [.channelNumber(Self.channel), .xorPeerAddress(peerText)] + auth)
        guard let bound = Self.exchange(client, request.encode(integrity: STUNIntegrity(key: key)), &server),
            bound.type.messageClass == .successResponse
        else { fatalError("ChannelBind failed") }
        return Self.address("127.0.0.1", relayed.port)
    }

    private static func exchange(_ socket: CInt, _ bytes: [UInt8], _ destination: inout sockaddr_in)
        -> STUNMessage?
    {
        _ = withUnsafePointer(to: &destination) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                sendto(socket, bytes, bytes.count, 0, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        var answer = [UInt8](repeating: 0, count: 2_048)
        let count = recv(socket, &answer, answer.count, 0)
        guard count > 0 else { return nil }
        return try? STUNCodec.decode(answer[0..<count]).message
    }

    // MARK: Sockets

    private static func udpSocket(bindTo host: String, timeoutMilliseconds: Int = 2_000) -> CInt {
        let descriptor = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        var local = address(host, 0)
        let bound = withUnsafePointer(to: &local) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        precondition(descriptor >= 0 && bound == 0, "cannot bind a UDP socket on \(host)")
        // A lost datagram costs a timeout, never a hang.
        var timeout = timeval(tv_sec: timeoutMilliseconds / 1_000, tv_usec: (timeoutMilliseconds % 1_000) * 1_000)
        setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        return descriptor
    }

    private static func address(_ host: String, _ port: UInt16) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        inet_pton(AF_INET, host, &address.sin_addr)
        return address
    }

    private static func localAddress(of socket: CInt) -> sockaddr_in {
        var address = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(socket, $0, &length) }
        }
        return address
    }

    /// A UDP port free on 127.0.0.1 right now.
    private static func freePort() -> UInt16 {
        let socket = udpSocket(bindTo: "127.0.0.1")
        defer { close(socket) }
        return UInt16(bigEndian: localAddress(of: socket).sin_port)
    }
}
