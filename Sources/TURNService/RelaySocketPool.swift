import NIOCore
import NIOPosix
import STUN
import TURN

#if canImport(Glibc)
    import Glibc
#endif

/// Relayed transport addresses backed by real UDP sockets in the configured port range.
///
/// A socket is created and bound synchronously (so the core gets its address at once, inside
/// the Allocate it is answering) and then handed to NIO on the endpoint's event loop; packets
/// that arrive before NIO registers it wait in the kernel's queue.
final class RelaySocketPool: RelayAddressProvider {
    /// One bind address per family served (RFC 6156: IPv6 relays beside IPv4 ones).
    private let bindAddresses: [TransportAddress.Family: TransportAddress]
    private let ports: ClosedRange<UInt16>
    private let loop: EventLoop
    /// Who reads what peers send; set once the endpoint that owns this pool exists.
    weak var endpoint: TURNEndpoint?
    private var channels: [TransportAddress: RelaySlot] = [:]
    private var nextPort: UInt16

    init(bindAddresses: [TransportAddress], ports: ClosedRange<UInt16>, loop: EventLoop) {
        self.bindAddresses = Dictionary(bindAddresses.map { ($0.family, $0) }, uniquingKeysWith: { first, _ in first })
        self.ports = ports
        self.loop = loop
        // Start somewhere random so that restarts do not hand out the same ports in order.
        self.nextPort = UInt16.random(in: ports)
    }

    var openCount: Int { channels.count }

    func open(family: TransportAddress.Family, evenPort: Bool, reserveNext: Bool)
        -> (relayed: TransportAddress, reserved: TransportAddress?)?
    {
        guard let bindAddress = bindAddresses[family] else { return nil }
        for _ in 0..<ports.count {
            let port = nextPort
            nextPort = port == ports.upperBound ? ports.lowerBound : port + 1
            if evenPort || reserveNext, port % 2 != 0 { continue }
            guard let relayed = bindAndRegister(port, on: bindAddress) else { continue }
            guard reserveNext else { return (relayed, nil) }
            guard port < ports.upperBound, let next = bindAndRegister(port + 1, on: bindAddress) else {
                close(relayed)
                continue
            }
            return (relayed, next)
        }
        return nil
    }

    /// Binds a relay socket on `port` and hands it to NIO; nil when the port is taken.
    private func bindAndRegister(_ port: UInt16, on bindAddress: TransportAddress) -> TransportAddress? {
        var candidate = bindAddress
        candidate.port = port
        guard channels[candidate] == nil, let descriptor = Self.bind(candidate) else { return nil }
        let handler = PeerDatagramHandler(endpoint: endpoint, relayed: candidate)
        let channel = DatagramBootstrap(group: loop)
            .channelOption(.datagramVectorReadMessageCount, value: TURNEndpoint.vectorReadCount)
            .channelOption(
                .recvAllocator, value: FixedSizeRecvByteBufferAllocator(capacity: TURNEndpoint.readBufferCapacity)
            )
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(handler) }
            }
            .withBoundSocket(descriptor: descriptor)
        let slot = RelaySlot(future: channel)
        channel.whenSuccess { slot.channel = $0 }
        channels[candidate] = slot
        return candidate
    }

    func close(_ relayed: TransportAddress) {
        guard let slot = channels.removeValue(forKey: relayed) else { return }
        slot.future.whenSuccess { $0.close(promise: nil) }
    }

    /// Sends a datagram out of a relayed address.
    func send(_ payload: ByteBuffer, from relayed: TransportAddress, to peer: TransportAddress) {
        guard let slot = channels[relayed] else { return }
        let envelope = AddressedEnvelope(remoteAddress: peer.socketAddress, data: payload)
        if let channel = slot.channel {
            channel.writeAndFlush(envelope, promise: nil)
        } else {
            slot.future.whenSuccess { $0.writeAndFlush(envelope, promise: nil) }
        }
    }

    func closeAll() {
        for relayed in Array(channels.keys) { close(relayed) }
    }

    /// A non-blocking UDP socket bound to `address`, or nil when the port is taken.
    private static func bind(_ address: TransportAddress) -> CInt? {
        let domain = address.family == .ipv4 ? AF_INET : AF_INET6
        let descriptor = socket(
            domain, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard descriptor >= 0 else { return nil }
        let result = address.socketAddress.withSockAddr { pointer, length in
            Glibc.bind(descriptor, pointer, socklen_t(length))
        }
        guard result == 0 else {
            Glibc.close(descriptor)
            return nil
        }
        return descriptor
    }
}

/// A relay socket: its channel once NIO has registered it.
private final class RelaySlot {
    let future: EventLoopFuture<Channel>
    var channel: Channel?

    init(future: EventLoopFuture<Channel>) { self.future = future }
}
