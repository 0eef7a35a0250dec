import Logging
import NIOCore
import STUN
import TURN

#if canImport(Glibc)
    import Glibc
#endif

/// The TURN server's sockets around the pure `AllocationServer`: client listeners (UDP and
/// TCP), relay sockets, and the routing between them. Confined to one event loop, so the core
/// is used without locks or actor hops on the data path.
final class TURNEndpoint: @unchecked Sendable {
    let loop: EventLoop
    /// Datagrams read per recvmmsg(2) call: a burst costs one system call, not one each.
    static let vectorReadCount = 32
    /// Room for each datagram of a vector read: NIO splits one read buffer into
    /// `vectorReadCount` slices, so one buffer is allocated per batch, not per datagram.
    /// 2 KiB holds anything a TURN client or peer sends over a 1500-byte MTU path.
    static let datagramCapacity = 2_048
    static let readBufferCapacity = datagramCapacity * vectorReadCount
    private var core: AllocationServer<RelaySocketPool>
    private let pool: RelaySocketPool
    private var udpListeners: [TransportAddress: Channel] = [:]
    private var streams: [FiveTuple: Channel] = [:]
    private(set) var traffic = RelayTraffic()
    private let logger: Logger

    init(
        loop: EventLoop, settings: AllocationSettings, policy: PeerPolicy, relayAddresses: [TransportAddress],
        relayPorts: ClosedRange<UInt16>, logger: Logger
    ) {
        self.loop = loop
        self.logger = logger
        var key = [UInt8](repeating: 0, count: 32)
        var generator = SystemRandomNumberGenerator()
        for index in key.indices { key[index] = generator.next() }
        pool = RelaySocketPool(bindAddresses: relayAddresses, ports: relayPorts, loop: loop)
        core = AllocationServer(settings: settings, policy: policy, nonces: NonceIssuer(key: key), relays: pool)
        pool.endpoint = self
    }

    // MARK: Listeners

    func addUDPListener(_ channel: Channel, address: TransportAddress) {
        loop.preconditionInEventLoop()
        udpListeners[address] = channel
    }

    func streamOpened(_ tuple: FiveTuple, channel: Channel) {
        loop.preconditionInEventLoop()
        streams[tuple] = channel
    }

    func streamClosed(_ tuple: FiveTuple) {
        loop.preconditionInEventLoop()
        streams[tuple] = nil
        _ = core.connectionClosed(tuple)
        logEvents()
    }

    // MARK: From clients

    /// A STUN message or ChannelData frame from a client, over any transport.
    func clientMessage(_ buffer: ByteBuffer, tuple: FiveTuple) {
        loop.preconditionInEventLoop()
        let start = buffer.readerIndex
        guard let first = buffer.getInteger(at: start, as: UInt8.self) else { return }
        if ChannelData.isChannelData(firstByte: first) {
            guard buffer.readableBytes >= ChannelData.headerLength,
                let header = ChannelData.parseHeader(
                    first, buffer.getInteger(at: start + 1)!, buffer.getInteger(at: start + 2)!,
                    buffer.getInteger(at: start + 3)!),
                header.length <= buffer.readableBytes - ChannelData.headerLength,
                let route = core.routeChannelData(
                    channel: header.channel, length: header.length, from: tuple, now: .now)
            else {
                traffic.dropped += 1
                return
            }
            // The payload goes out as a slice of the buffer it came in: no copy.
            let payload = buffer.getSlice(at: start + ChannelData.headerLength, length: header.length)!
            traffic.toPeers.count(payload.readableBytes)
            pool.send(payload, from: route.relayed, to: route.peer)
            return
        }
        switch core.handle(buffer.readableBytesView, from: tuple, now: Self.moment()) {
        case .respond(let bytes):
            send(ByteBuffer(bytes: bytes), to: tuple)
        case .relay(let relayed, let peer, let payload):
            traffic.toPeers.count(payload.count)
            pool.send(ByteBuffer(bytes: payload), from: relayed, to: peer)
        case .ignore:
            break
        }
        logEvents()
    }

    /// One line per allocation made or released, per refused credential and per denied peer.
    private func logEvents() {
        for event in core.drainEvents() {
            switch event {
            case .allocated(let tuple, let relayed, let username, let lifetime):
                logger.info(
                    "allocation created",
                    metadata: [
                        "client": "\(tuple)", "relayed": "\(relayed)", "user": "\(username)",
                        "lifetime_s": "\(lifetime)",
                    ])
            case .released(let tuple, let relayed, let reason):
                logger.info(
                    "allocation released",
                    metadata: ["client": "\(tuple)", "relayed": "\(relayed)", "reason": "\(reason.rawValue)"])
            case .authenticationFailed(let tuple, let username):
                logger.warning("authentication failed", metadata: ["client": "\(tuple)", "user": "\(username)"])
            case .peerDenied(let peer):
                logger.warning("peer denied by policy", metadata: ["peer": "\(peer)"])
            }
        }
    }

    // MARK: From peers

    func peerDatagram(_ payload: ByteBuffer, from peer: TransportAddress, to relayed: TransportAddress) {
        loop.preconditionInEventLoop()
        switch core.routePeerData(to: relayed, from: peer, length: payload.readableBytes, now: .now) {
        case .channel(let number, let tuple):
            let padding = tuple.transport == .udp ? 0 : ChannelData.streamPadding(forLength: payload.readableBytes)
            var frame = ByteBufferAllocator().buffer(
                capacity: ChannelData.headerLength + payload.readableBytes + padding)
            frame.writeInteger(number)
            frame.writeInteger(UInt16(payload.readableBytes))
            var body = payload
            frame.writeBuffer(&body)
            frame.writeRepeatingByte(0, count: padding)
            traffic.toClients.count(payload.readableBytes)
            send(frame, to: tuple)
        case .dataIndication(let tuple, let peer):
            traffic.toClients.count(payload.readableBytes)
            send(
                ByteBuffer(bytes: core.dataIndication(from: peer, payload: Array(payload.readableBytesView))), to: tuple
            )
        case .drop:
            traffic.dropped += 1
        }
    }

    private func send(_ buffer: ByteBuffer, to tuple: FiveTuple) {
        switch tuple.transport {
        case .udp:
            udpListeners[tuple.server]?.writeAndFlush(
                AddressedEnvelope(remoteAddress: tuple.client.socketAddress, data: buffer), promise: nil)
        case .tcp, .tls:
            streams[tuple]?.writeAndFlush(buffer, promise: nil)
        }
    }

    // MARK: Housekeeping

    func expire() {
        loop.preconditionInEventLoop()
        _ = core.expire(now: .now)
        logEvents()
    }

    func update(settings: AllocationSettings, policy: PeerPolicy) {
        loop.preconditionInEventLoop()
        core.update(settings: settings, policy: policy)
    }

    struct Snapshot: Sendable {
        var allocations: Int
        var byTransport: [ClientTransport: Int]
        var users: Int
        var counters: TURNCounters
        var traffic: RelayTraffic
        var relaySockets: Int
    }

    func snapshot() -> Snapshot {
        loop.preconditionInEventLoop()
        return Snapshot(
            allocations: core.allocationCount, byTransport: core.allocationsByTransport, users: core.usernames.count,
            counters: core.counters, traffic: traffic, relaySockets: pool.openCount)
    }

    func shutdown() {
        loop.preconditionInEventLoop()
        for channel in udpListeners.values { channel.close(promise: nil) }
        for channel in streams.values { channel.close(promise: nil) }
        pool.closeAll()
    }

    static func moment() -> Moment {
        Moment(monotonic: .now, unixSeconds: UInt64(max(0, time(nil))))
    }
}

/// Packets and bytes relayed each way, and what was dropped.
struct RelayTraffic: Sendable, Equatable {
    struct Direction: Sendable, Equatable {
        var packets = 0
        var bytes = 0
        mutating func count(_ length: Int) {
            packets &+= 1
            bytes &+= length
        }
    }
    var toPeers = Direction()
    var toClients = Direction()
    var dropped = 0
}

/// Reads what peers send to one relayed address.
final class PeerDatagramHandler: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    private weak var endpoint: TURNEndpoint?
    private let relayed: TransportAddress

    init(endpoint: TURNEndpoint?, relayed: TransportAddress) {
        self.endpoint = endpoint
        self.relayed = relayed
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = unwrapInboundIn(data)
        // The conversion copies bytes into inline storage: no allocation per datagram.
        guard let peer = TransportAddress(envelope.remoteAddress) else { return }
        endpoint?.peerDatagram(envelope.data, from: peer, to: relayed)
    }
}

/// Reads a UDP listener: every datagram is one STUN message or ChannelData frame.
final class ClientDatagramHandler: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    private let endpoint: TURNEndpoint
    private let server: TransportAddress

    init(endpoint: TURNEndpoint, server: TransportAddress) {
        self.endpoint = endpoint
        self.server = server
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = unwrapInboundIn(data)
        guard let client = TransportAddress(envelope.remoteAddress) else { return }
        endpoint.clientMessage(envelope.data, tuple: FiveTuple(client: client, server: server, transport: .udp))
    }
}

/// One TCP client connection: registers its 5-tuple and passes framed messages on.
final class ClientStreamHandler: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = ByteBuffer
    private let endpoint: TURNEndpoint
    private let transport: ClientTransport
    private var tuple: FiveTuple?

    init(endpoint: TURNEndpoint, transport: ClientTransport) {
        self.endpoint = endpoint
        self.transport = transport
    }

    func channelActive(context: ChannelHandlerContext) {
        if let remote = context.remoteAddress.flatMap(TransportAddress.init),
            let local = context.localAddress.flatMap(TransportAddress.init)
        {
            let tuple = FiveTuple(client: remote, server: local, transport: transport)
            self.tuple = tuple
            endpoint.streamOpened(tuple, channel: context.channel)
        }
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        if let tuple { endpoint.streamClosed(tuple) }
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard let tuple else { return }
        endpoint.clientMessage(unwrapInboundIn(data), tuple: tuple)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}

/// Frames a TCP byte stream into STUN messages and ChannelData frames (RFC 8656 §12.4:
/// ChannelData over streams is padded to a multiple of 4).
struct StreamFramer: ByteToMessageDecoder {
    typealias InboundOut = ByteBuffer

    struct NotTURN: Error {}

    mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard buffer.readableBytes >= 4, let first = buffer.getInteger(at: buffer.readerIndex, as: UInt8.self),
            let length = buffer.getInteger(at: buffer.readerIndex + 2, as: UInt16.self)
        else { return .needMoreData }
        let total: Int
        let keep: Int
        if ChannelData.isChannelData(firstByte: first) {
            keep = 4 + Int(length)
            total = keep + ChannelData.streamPadding(forLength: Int(length))
        } else if first & 0xC0 == 0 {
            keep = 20 + Int(length)
            total = keep
        } else {
            // Neither STUN nor ChannelData: not a TURN client; the connection is closed.
            throw NotTURN()
        }
        guard buffer.readableBytes >= total else { return .needMoreData }
        let message = buffer.getSlice(at: buffer.readerIndex, length: keep)!
        buffer.moveReaderIndex(forwardBy: total)
        context.fireChannelRead(Self.wrapInboundOut(message))
        return .continue
    }

    mutating func decodeLast(context: ChannelHandlerContext, buffer: inout ByteBuffer, seenEOF: Bool) throws
        -> DecodingState
    {
        while try decode(context: context, buffer: &buffer) == .continue {}
        return .needMoreData
    }
}
