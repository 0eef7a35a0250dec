import DatagramIO
import Logging
import NIOCore
import STUN
import TURN

#if canImport(Glibc)
    import Glibc
#endif

/// The TURN server's sockets around the pure `AllocationServer`: client listeners (UDP, and
/// the TCP/TLS connections NIO serves), relay sockets, and the routing between them. Confined
/// to the `DatagramLoop`'s thread, so the core is used without locks or actor hops on the data
/// path; a ChannelData datagram is relayed without an allocation (`Benchmarks/`).
final class TURNEndpoint: DatagramReceiver, @unchecked Sendable {
    let loop: DatagramLoop
    // `core` and `traffic` are used on the loop's thread only and never re-entrantly (the
    // core calls out only to the relay pool, which does not reach back here): the runtime's
    // exclusivity check per datagram would only ever pass.
    @exclusivity(unchecked) private var core: AllocationServer<RelaySocketPool>
    private let pool: RelaySocketPool
    private var streams: [FiveTuple: Channel] = [:]
    @exclusivity(unchecked) private(set) var traffic = RelayTraffic()
    private let logger: Logger

    init(
        settings: AllocationSettings, policy: PeerPolicy, relayAddresses: [TransportAddress],
        relayPorts: ClosedRange<UInt16>, logger: Logger
    ) throws {
        self.logger = logger
        var key = [UInt8](repeating: 0, count: 32)
        var generator = SystemRandomNumberGenerator()
        for index in key.indices { key[index] = generator.next() }
        loop = try DatagramLoop()
        pool = RelaySocketPool(bindAddresses: relayAddresses, ports: relayPorts, loop: loop)
        core = AllocationServer(settings: settings, policy: policy, nonces: NonceIssuer(key: key), relays: pool)
        loop.receiver = self
    }

    // MARK: Listeners

    /// Opens a UDP listener on the loop; false when the address cannot be bound.
    func addUDPListener(_ address: TransportAddress) -> Bool {
        loop.open(.listener(address), at: address, options: .init(reuseAddress: true, sendsFromTwin: true))
    }

    func streamOpened(_ tuple: FiveTuple, channel: Channel) {
        streams[tuple] = channel
    }

    func streamClosed(_ tuple: FiveTuple) {
        streams[tuple] = nil
        _ = core.connectionClosed(tuple)
        logEvents()
    }

    // MARK: DatagramReceiver

    func datagram(_ payload: UnsafeRawBufferPointer, from source: TransportAddress, on socket: DatagramSocket) {
        switch socket {
        case .listener(let server):
            clientMessage(payload, tuple: FiveTuple(client: source, server: server, transport: .udp))
        case .flow(let relayed):
            peerDatagram(payload, from: source, to: relayed)
        }
    }

    func tick() {
        expire()
    }

    // MARK: From clients

    /// A STUN message or ChannelData frame from a client, over any transport.
    func clientMessage(_ bytes: UnsafeRawBufferPointer, tuple: FiveTuple) {
        guard let first = bytes.first else { return }
        if ChannelData.isChannelData(firstByte: first) {
            guard bytes.count >= ChannelData.headerLength,
                let header = ChannelData.parseHeader(first, bytes[1], bytes[2], bytes[3]),
                header.length <= bytes.count - ChannelData.headerLength,
                let route = core.routeChannelData(
                    channel: header.channel, length: header.length, from: tuple, now: now())
            else {
                traffic.dropped += 1
                return
            }
            let payload = UnsafeRawBufferPointer(
                rebasing: bytes[ChannelData.headerLength..<(ChannelData.headerLength + header.length)])
            traffic.toPeers.count(payload.count)
            loop.send(from: .flow(route.relayed), to: route.peer, payload: payload)
            return
        }
        // Send indications of the plain shape are read in place, like ChannelData.
        if bytes.count >= 2, bytes[0] == 0x00, bytes[1] == 0x16 {
            switch core.routeSendIndication(bytes, from: tuple, now: now()) {
            case .relay(let relayed, let peer, let range):
                traffic.toPeers.count(range.count)
                loop.send(from: .flow(relayed), to: peer, payload: UnsafeRawBufferPointer(rebasing: bytes[range]))
                return
            case .drop:
                return  // counted by the core, as `handle` counts it
            case .other:
                break
            }
        }
        switch core.handle(bytes, from: tuple, now: moment()) {
        case .respond(let response):
            response.withUnsafeBytes { send($0, to: tuple) }
        case .relay(let relayed, let peer, let payload):
            traffic.toPeers.count(payload.count)
            payload.withUnsafeBytes { loop.send(from: .flow(relayed), to: peer, payload: $0) }
        case .ignore:
            break
        }
        logEvents()
    }

    /// One line per allocation made or released, per refused credential and per denied peer.
    private func logEvents() {
        guard core.hasEvents else { return }
        for event in core.drainEvents() {
            switch event {
            case .allocated(let tuple, let relayed, let username, let lifetime):
                logger.info(
                    "allocation created",
                    metadata: [
                        "client": "\(tuple)", "relayed": "\(Self.list(relayed))", "user": "\(username)",
                        "lifetime_s": "\(lifetime)",
                    ])
            case .released(let tuple, let relayed, let reason):
                logger.info(
                    "allocation released",
                    metadata: [
                        "client": "\(tuple)", "relayed": "\(Self.list(relayed))", "reason": "\(reason.rawValue)",
                    ])
            case .authenticationFailed(let tuple, let username):
                logger.warning("authentication failed", metadata: ["client": "\(tuple)", "user": "\(username)"])
            case .peerDenied(let peer):
                logger.warning("peer denied by policy", metadata: ["peer": "\(peer)"])
            }
        }
    }

    /// Relayed addresses as one log value: `127.0.0.1:35000` or, for a dual allocation,
    /// `127.0.0.1:35000 [::1]:35001`.
    private static func list(_ addresses: [TransportAddress]) -> String {
        addresses.map(\.description).joined(separator: " ")
    }

    // MARK: From peers

    func peerDatagram(_ payload: UnsafeRawBufferPointer, from peer: TransportAddress, to relayed: TransportAddress) {
        switch core.routePeerData(to: relayed, from: peer, length: payload.count, now: now()) {
        case .channel(let number, let tuple):
            traffic.toClients.count(payload.count)
            let header = UInt32(number) << 16 | UInt32(payload.count)
            switch tuple.transport {
            case .udp:
                loop.send(from: .listener(tuple.server), to: tuple.client, header: header, payload: payload)
            case .tcp, .tls:
                // RFC 8656 §12.5: over a stream, ChannelData is padded to a multiple of 4.
                let padding = ChannelData.streamPadding(forLength: payload.count)
                var frame = ByteBufferAllocator().buffer(capacity: ChannelData.headerLength + payload.count + padding)
                frame.writeInteger(header)
                frame.writeBytes(payload)
                frame.writeRepeatingByte(0, count: padding)
                streams[tuple]?.writeAndFlush(frame, promise: nil)
            }
        case .dataIndication(let tuple, let peer):
            traffic.toClients.count(payload.count)
            guard tuple.transport == .udp else {
                core.dataIndication(from: peer, payload: Array(payload)).withUnsafeBytes { send($0, to: tuple) }
                return
            }
            // Assembled in the loop's send slot: no allocation (RFC 8489 §6: a random ID).
            var random = SystemRandomNumberGenerator()
            let id = (random.next() as UInt64, UInt32(truncatingIfNeeded: random.next() as UInt64))
            loop.send(
                from: .listener(tuple.server), to: tuple.client,
                prefixLength: IndicationFraming.dataIndicationPrefixLength(peer: peer), payload: payload,
                padding: IndicationFraming.padding(payload.count)
            ) { prefix in
                IndicationFraming.writeDataIndicationPrefix(
                    peer: peer, payloadLength: payload.count, transactionID: id, into: prefix)
            }
        case .drop:
            traffic.dropped += 1
        }
    }

    private func send(_ bytes: UnsafeRawBufferPointer, to tuple: FiveTuple) {
        switch tuple.transport {
        case .udp:
            loop.send(from: .listener(tuple.server), to: tuple.client, payload: bytes)
        case .tcp, .tls:
            streams[tuple]?.writeAndFlush(ByteBuffer(bytes: bytes), promise: nil)
        }
    }

    // MARK: Housekeeping

    func expire() {
        _ = core.expire(now: now())
        logEvents()
    }

    func update(settings: AllocationSettings, policy: PeerPolicy) {
        core.update(settings: settings, policy: policy)
    }

    struct Snapshot: Sendable {
        var allocations: Int
        /// Of `allocations`, those with an IPv4 and an IPv6 relayed address.
        var dualAllocations: Int
        var byTransport: [ClientTransport: Int]
        var users: Int
        var counters: TURNCounters
        var traffic: RelayTraffic
        var relaySockets: Int
    }

    func snapshot() -> Snapshot {
        var traffic = traffic
        traffic.dropped += loop.sendFailures
        return Snapshot(
            allocations: core.allocationCount, dualAllocations: core.dualAllocationCount,
            byTransport: core.allocationsByTransport, users: core.usernames.count,
            counters: core.counters, traffic: traffic, relaySockets: pool.openCount)
    }

    /// Closes every client connection and relay socket; the listeners close with the loop.
    func shutdown() {
        for channel in streams.values { channel.close(promise: nil) }
        pool.closeAll()
        loop.flush()
    }

    func moment() -> Moment {
        Moment(monotonic: now(), unixSeconds: UInt64(max(0, time(nil))))
    }

    /// The monotonic clock the core's lifetimes run on, as read when the loop's current round
    /// began (the loop's tick follows the same clock).
    func now() -> MonotonicTime {
        MonotonicTime(nanoseconds: Int64(loop.roundTime))
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
            let channel = context.channel
            endpoint.loop.execute { [endpoint] in endpoint.streamOpened(tuple, channel: channel) }
        }
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        if let tuple { endpoint.loop.execute { [endpoint] in endpoint.streamClosed(tuple) } }
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard let tuple else { return }
        let message = unwrapInboundIn(data)
        endpoint.loop.execute { [endpoint] in
            message.withUnsafeReadableBytes { endpoint.clientMessage($0, tuple: tuple) }
        }
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
