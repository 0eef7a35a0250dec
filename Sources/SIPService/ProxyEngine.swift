import DatagramIO
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import NIOSSL
import NIOWebSocket
import SIP
import SIPProxy
import STUN

/// The IO side of the proxy: owns the pure `EdgeProxy` and every socket, and turns the core's actions
/// into sends.
///
/// The core and the UDP listeners live on one `DatagramLoop` thread (`plane`): datagrams are read with
/// recvmmsg(2) into the loop's buffers and what a batch makes the proxy send leaves with sendmmsg(2) when
/// the batch is done, with no allocation or promise per datagram, and the 25 ms tick that feeds the core
/// the time is the loop's timerfd. Stream connections (TCP, TLS, WS, WSS) stay on NIO (`streams`): their
/// handlers hand whole messages to the plane, and the plane writes to their channels, which NIO carries
/// over to the channel's loop. Every method below must be called on the plane's thread unless it says
/// otherwise; that is what makes the unchecked `Sendable` sound.
final class ProxyEngine: DatagramReceiver, @unchecked Sendable {
    /// The core's thread, which also reads and writes the UDP listeners.
    let plane: DatagramLoop
    /// NIO's loop for stream connections and the connections the proxy opens to trunks.
    let streams: EventLoop
    let logger: Logger
    var proxy: EdgeProxy
    /// Bound UDP sockets by listener index, and listener indices by socket.
    private(set) var datagramSockets: [Int: DatagramSocket] = [:]
    private var listenerOfSocket: [DatagramSocket: Int] = [:]
    /// Open stream connections by number.
    var connections: [UInt64: Connection] = [:]
    /// Connections by (transport, remote address), so a request for a trunk reuses one (RFC 5923-style).
    var connectionsByRemote: [RemoteKey: UInt64] = [:]
    /// Outgoing connections still being set up, with what waits to be sent on them.
    var pendingConnects: [RemoteKey: [(bytes: [UInt8], transaction: TransactionKey?)]] = [:]
    var tlsClientContext: NIOSSLContext?
    /// Connection numbers, taken on the streams' loop when a connection opens.
    private let connectionNumbers = NIOLockedValueBox<UInt64>(0)
    private var ticking = false

    struct Connection {
        var channel: Channel
        var flow: Flow
        var isWebSocket: Bool
    }

    struct RemoteKey: Hashable {
        var transport: SIPTransport
        var host: String
        var port: UInt16
    }

    /// The core's timers are T1 (500 ms) and coarser: a 25 ms tick fires them at most T1/20 late, and
    /// wakes the thread 40 times a second when idle (Kamailio's timer ticks every 62.5 ms).
    static let tickInterval: UInt64 = 25_000_000

    init(plane: DatagramLoop, streams: EventLoop, proxy: EdgeProxy, logger: Logger) {
        self.plane = plane
        self.streams = streams
        self.proxy = proxy
        self.logger = logger
    }

    static func now() -> TransactionInstant {
        TransactionInstant(nanoseconds: DatagramLoop.monotonicNanoseconds())
    }

    /// Binds listener `index`'s UDP socket on the plane; nil when it is bound, else why not.
    func openDatagramListener(_ index: Int, host: String, port: Int) -> String? {
        guard let port = UInt16(exactly: port), let address = TransportAddress(text: host, port: port) else {
            return "\(host) is not an IP address"
        }
        let socket = DatagramSocket.listener(address)
        // SO_REUSEADDR as stagedoor-turn does: a restarted proxy binds while its predecessor is still
        // closing (the supervisor's lock keeps two stacks from sharing a runtime directory).
        guard plane.open(socket, at: address, options: DatagramSocketOptions(reuseAddress: true)) else {
            return "cannot bind \(address)"
        }
        datagramSockets[index] = socket
        listenerOfSocket[socket] = index
        return nil
    }

    /// Starts feeding the core the time.
    func startTicking() {
        ticking = true
    }

    func stop() {
        ticking = false
        for connection in connections.values { connection.channel.close(promise: nil) }
        for socket in datagramSockets.values { plane.close(socket) }
        datagramSockets.removeAll()
        listenerOfSocket.removeAll()
    }

    // MARK: - From the network

    /// One UDP datagram, one SIP message (RFC 3261 §18.1.1). What the proxy sends in answer is queued
    /// in the plane and leaves with the rest of the batch.
    func datagram(_ payload: UnsafeRawBufferPointer, from source: TransportAddress, on socket: DatagramSocket) {
        guard let listener = listenerOfSocket[socket] else { return }
        let flow = Flow(
            listener: listener, transport: .udp, remote: PeerAddress(host: hostText(source), port: source.port))
        incoming.removeAll(keepingCapacity: true)
        incoming.append(contentsOf: payload)
        received(incoming, on: flow)
    }

    func tick() {
        guard ticking else { return }
        let now = Self.now()
        if let deadline = proxy.nextDeadline, deadline <= now {
            perform(proxy.handleTimeout(now: now))
        }
        for event in proxy.drainEvents() {
            switch event {
            case .trunkState(let id, let server, let state):
                let level: Logger.Level = state == .down ? .warning : .notice
                logger.log(
                    level: level, "trunk server \(state.rawValue)",
                    metadata: [
                        "trunk": "\(id)", "server": "\(server.transport.rawValue) \(server.host):\(server.port)",
                    ])
            case .sourceBanned(let host):
                logger.warning("source banned for exceeding its request rate", metadata: ["source": "\(host)"])
            }
        }
    }

    func received(_ bytes: [UInt8], on flow: Flow) {
        perform(proxy.receive(bytes, on: flow, now: Self.now()))
    }

    /// A whole message from a stream connection. Any thread: the message goes over to the plane, unless
    /// its connection was refused meanwhile.
    func deliver(_ bytes: [UInt8], on flow: Flow) {
        plane.execute { [self] in
            guard connections[flow.connection] != nil else { return }
            received(bytes, on: flow)
        }
    }

    /// A stream connection opened, on the streams' loop: its flow, which the plane registers next (in
    /// order before anything the connection delivers). Nil when the channel has no peer address;
    /// `refuse` runs (on the plane) when the source is over its connection limit, and must close it.
    func opened(
        _ channel: Channel, transport: SIPTransport, listener: Int, isWebSocket: Bool,
        refuse: @escaping @Sendable () -> Void
    ) -> Flow? {
        guard let remote = channel.remoteAddress, let host = remote.ipAddress, let port = remote.port else {
            return nil
        }
        let id = connectionNumbers.withLockedValue { number in
            number += 1
            return number
        }
        let flow = Flow(
            listener: listener, transport: transport, remote: PeerAddress(host: host, port: UInt16(port)),
            connection: id)
        plane.execute { [self] in
            guard proxy.flowOpened(flow) else {
                logger.notice("connection refused: too many from this source", metadata: ["source": "\(host)"])
                refuse()
                return
            }
            connections[id] = Connection(channel: channel, flow: flow, isWebSocket: isWebSocket)
            connectionsByRemote[RemoteKey(transport: transport, host: host, port: UInt16(port))] = id
        }
        return flow
    }

    /// A stream connection closed. Any thread.
    func closed(_ flow: Flow) {
        plane.execute { [self] in
            guard connections.removeValue(forKey: flow.connection) != nil else { return }
            let key = RemoteKey(transport: flow.transport, host: flow.remote.host, port: flow.remote.port)
            if connectionsByRemote[key] == flow.connection { connectionsByRemote[key] = nil }
            proxy.flowClosed(flow)
        }
    }

    // MARK: - To the network

    func perform(_ actions: [ProxyAction]) {
        for action in actions {
            guard case .send(let message, let destination, let transaction) = action else { continue }
            // Serialized into one reused array; the send copies it into a send slot or a buffer.
            outgoing.removeAll(keepingCapacity: true)
            message.serialize(into: &outgoing)
            send(outgoing, to: destination, transaction: transaction)
        }
    }

    /// Scratch space for serializing outgoing messages, kept between messages.
    private var outgoing: [UInt8] = []
    /// Scratch space for incoming datagrams, kept between datagrams.
    private var incoming: [UInt8] = []

    private func send(_ bytes: [UInt8], to destination: Destination, transaction: TransactionKey?) {
        switch destination {
        case .flow(let flow):
            if flow.transport == .udp {
                sendDatagram(
                    bytes, listener: flow.listener, host: flow.remote.host, port: flow.remote.port,
                    transaction: transaction)
            } else if let connection = connections[flow.connection] {
                write(bytes, to: connection)
            } else {
                failed(transaction)
            }
        case .address(let listener, let host, let port):
            let transport = proxy.configuration.listeners[listener].transport
            if transport == .udp {
                sendDatagram(bytes, listener: listener, host: host, port: port, transaction: transaction)
                return
            }
            let key = RemoteKey(transport: transport, host: host, port: port)
            if let id = connectionsByRemote[key], let connection = connections[id] {
                write(bytes, to: connection)
            } else if transport.canConnect {
                connect(key, listener: listener, first: (bytes, transaction))
            } else {
                failed(transaction)
            }
        }
    }

    private func write(_ bytes: [UInt8], to connection: Connection) {
        let channel = connection.channel
        var buffer = channel.allocator.buffer(capacity: bytes.count)
        buffer.writeBytes(bytes)
        if connection.isWebSocket {
            // RFC 7118 §5: one SIP message per WebSocket message, text frames for UTF-8 SIP.
            let frame = WebSocketFrame(fin: true, opcode: .text, data: buffer)
            channel.writeAndFlush(frame, promise: nil)
        } else {
            channel.writeAndFlush(buffer, promise: nil)
        }
    }

    private func sendDatagram(
        _ bytes: [UInt8], listener: Int, host: String, port: UInt16, transaction: TransactionKey?
    ) {
        guard let socket = datagramSockets[listener] ?? datagramSockets.values.first,
            let address = transportAddress(host: host, port: port)
        else {
            failed(transaction)
            return
        }
        bytes.withUnsafeBytes { plane.send(from: socket, to: address, payload: $0) }
    }

    /// Datagram destinations by address text: the same few peers (trunks, clients in a dialog) recur, and
    /// parsing the text for every datagram costs more than the look-up.
    private var transportAddresses: [AddressKey: TransportAddress] = [:]
    /// Source addresses as text, the other way round, for the same reason.
    private var hostTexts: [TransportAddress: String] = [:]

    private struct AddressKey: Hashable {
        var host: String
        var port: UInt16
    }

    private func transportAddress(host: String, port: UInt16) -> TransportAddress? {
        let key = AddressKey(host: host, port: port)
        if let address = transportAddresses[key] { return address }
        // A bracketed IPv6 reference (from a Via or URI) names the same address.
        let bare = host.hasPrefix("[") && host.hasSuffix("]") ? String(host.dropFirst().dropLast()) : host
        guard let address = TransportAddress(text: bare, port: port) else { return nil }
        // Bounded: forgotten all at once when full, then learnt again.
        if transportAddresses.count >= 4096 { transportAddresses.removeAll(keepingCapacity: true) }
        transportAddresses[key] = address
        return address
    }

    private func hostText(_ source: TransportAddress) -> String {
        var key = source
        key.port = 0
        if let text = hostTexts[key] { return text }
        let text = key.addressText
        if hostTexts.count >= 4096 { hostTexts.removeAll(keepingCapacity: true) }
        hostTexts[key] = text
        return text
    }

    private func failed(_ transaction: TransactionKey?) {
        guard let transaction else { return }
        // Report on the next loop turn: the core may be in the middle of producing actions.
        plane.execute { [self] in
            perform(proxy.sendFailed(transaction: transaction, now: Self.now()))
        }
    }

    /// Opens a TCP or TLS connection to a trunk (or a UDP-less next hop) and sends what waits for it.
    private func connect(_ key: RemoteKey, listener: Int, first: (bytes: [UInt8], transaction: TransactionKey?)) {
        if pendingConnects[key] != nil {
            pendingConnects[key]!.append(first)
            return
        }
        pendingConnects[key] = [first]
        let tls = key.transport == .tls ? tlsClientContext : nil
        if key.transport == .tls, tls == nil {
            for item in pendingConnects.removeValue(forKey: key) ?? [] { failed(item.transaction) }
            return
        }
        let framerLimits = StreamFramer.Limits(maxMessageSize: proxy.configuration.maxMessageSize)
        let host = key.host
        let streams = self.streams
        ClientBootstrap(group: streams)
            .connectTimeout(.seconds(5))
            .channelInitializer { [self] channel in
                channel.eventLoop.makeCompletedFuture {
                    if let tls {
                        try channel.pipeline.syncOperations.addHandler(
                            NIOSSLClientHandler(context: tls, serverHostname: nil))
                    }
                    try channel.pipeline.syncOperations.addHandler(
                        StreamConnectionHandler(
                            engine: self, transport: key.transport, listener: listener, limits: framerLimits))
                }
            }
            .connect(host: host, port: Int(key.port))
            .whenComplete { [self] result in
                // The connect promise succeeds just before channelActive hands the connection to the
                // plane: go over on the streams' next loop turn, so that the plane has it first.
                streams.execute { [self] in
                    plane.execute { [self] in connected(key, host: host, result: result) }
                }
            }
    }

    private func connected(_ key: RemoteKey, host: String, result: Result<Channel, Error>) {
        let waiting = pendingConnects.removeValue(forKey: key) ?? []
        switch result {
        case .success:
            if let id = connectionsByRemote[key], let connection = connections[id] {
                for item in waiting { write(item.bytes, to: connection) }
            } else {
                for item in waiting { failed(item.transaction) }
            }
        case .failure(let error):
            logger.notice(
                "cannot connect",
                metadata: ["to": "\(key.transport.rawValue) \(host):\(key.port)", "error": "\(error)"])
            for item in waiting { failed(item.transaction) }
        }
    }
}

/// Cuts a TCP or TLS stream into SIP messages with the SIP library's framer (RFC 3261 §18.3), answers
/// RFC 5626 keep-alive pings, and tells the engine when the connection opens and closes.
final class StreamConnectionHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let engine: ProxyEngine
    private let transport: SIPTransport
    private let listener: Int
    private var framer: StreamFramer
    private var flow: Flow?

    init(engine: ProxyEngine, transport: SIPTransport, listener: Int, limits: StreamFramer.Limits) {
        self.engine = engine
        self.transport = transport
        self.listener = listener
        self.framer = StreamFramer(limits: limits)
    }

    func channelActive(context: ChannelHandlerContext) {
        let channel = context.channel
        guard
            let flow = engine.opened(
                channel, transport: transport, listener: listener, isWebSocket: false,
                refuse: { channel.close(promise: nil) })
        else {
            context.close(promise: nil)
            return
        }
        self.flow = flow
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        if let flow { engine.closed(flow) }
        flow = nil
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard let flow else { return }
        let buffer = unwrapInboundIn(data)
        framer.append(buffer.readableBytesView)
        do {
            while let output = try framer.next() {
                switch output {
                case .message(let bytes):
                    engine.deliver(bytes, on: flow)
                case .keepAlivePing:
                    var pong = context.channel.allocator.buffer(capacity: 2)
                    pong.writeString("\r\n")
                    context.writeAndFlush(wrapOutboundOut(pong), promise: nil)
                }
            }
        } catch {
            engine.logger.notice(
                "closing a stream that cannot be framed", metadata: ["flow": "\(flow)", "error": "\(error)"])
            context.close(promise: nil)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        context.close(promise: nil)
    }
}
