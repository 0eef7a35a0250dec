import Logging
import NIOCore
import NIOPosix
import NIOSSL
import NIOWebSocket
import SIP
import SIPProxy

/// The IO side of the proxy: owns the pure `EdgeProxy` and every socket, and turns the core's actions
/// into writes. Everything runs on one event loop (`loop`); every method must be called on it, which is
/// what makes the unchecked `Sendable` sound.
final class ProxyEngine: @unchecked Sendable {
    let loop: EventLoop
    let logger: Logger
    var proxy: EdgeProxy
    /// Bound UDP sockets by listener index.
    var datagramChannels: [Int: Channel] = [:]
    /// Open stream connections by number.
    var connections: [UInt64: Connection] = [:]
    /// Connections by (transport, remote address), so a request for a trunk reuses one (RFC 5923-style).
    var connectionsByRemote: [RemoteKey: UInt64] = [:]
    /// Outgoing connections still being set up, with what waits to be sent on them.
    var pendingConnects: [RemoteKey: [(bytes: [UInt8], transaction: TransactionKey?)]] = [:]
    var tlsClientContext: NIOSSLContext?
    private var nextConnection: UInt64 = 1
    private var timer: RepeatedTask?

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

    init(loop: EventLoop, proxy: EdgeProxy, logger: Logger) {
        self.loop = loop
        self.proxy = proxy
        self.logger = logger
    }

    static func now() -> TransactionInstant {
        TransactionInstant(nanoseconds: NIODeadline.now().uptimeNanoseconds)
    }

    /// Drives the core's timers: transaction timers are at least T1/2... coarse, so a 10 ms tick is plenty.
    func startTicking() {
        loop.preconditionInEventLoop()
        timer = loop.scheduleRepeatedTask(initialDelay: .milliseconds(10), delay: .milliseconds(10)) { [self] _ in
            let now = Self.now()
            // Never inside a read batch here; should a batch have ended without channelReadComplete, what it
            // queued leaves now.
            inReadBatch = false
            flushDatagrams()
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
    }

    func stop() {
        timer?.cancel()
        for connection in connections.values { connection.channel.close(promise: nil) }
        for channel in datagramChannels.values { channel.close(promise: nil) }
    }

    // MARK: - From the network

    func received(_ bytes: [UInt8], on flow: Flow) {
        perform(proxy.receive(bytes, on: flow, now: Self.now()))
    }

    /// Registers a stream connection; false when the source is over its connection limit.
    func opened(_ channel: Channel, transport: SIPTransport, listener: Int, isWebSocket: Bool) -> Flow? {
        guard let remote = channel.remoteAddress, let host = remote.ipAddress, let port = remote.port else {
            return nil
        }
        let id = nextConnection
        nextConnection += 1
        let flow = Flow(
            listener: listener, transport: transport, remote: PeerAddress(host: host, port: UInt16(port)),
            connection: id)
        guard proxy.flowOpened(flow) else {
            logger.notice("connection refused: too many from this source", metadata: ["source": "\(host)"])
            return nil
        }
        connections[id] = Connection(channel: channel, flow: flow, isWebSocket: isWebSocket)
        connectionsByRemote[RemoteKey(transport: transport, host: host, port: UInt16(port))] = id
        return flow
    }

    func closed(_ flow: Flow) {
        guard connections.removeValue(forKey: flow.connection) != nil else { return }
        let key = RemoteKey(transport: flow.transport, host: flow.remote.host, port: flow.remote.port)
        if connectionsByRemote[key] == flow.connection { connectionsByRemote[key] = nil }
        proxy.flowClosed(flow)
    }

    // MARK: - To the network

    func perform(_ actions: [ProxyAction]) {
        for action in actions {
            guard case .send(let message, let destination, let transaction) = action else { continue }
            // Serialized into one reused array; the send copies it into a buffer of the channel's.
            outgoing.removeAll(keepingCapacity: true)
            message.serialize(into: &outgoing)
            send(outgoing, to: destination, transaction: transaction)
        }
        if !inReadBatch { flushDatagrams() }
    }

    /// Scratch space for serializing outgoing messages, kept between messages.
    private var outgoing: [UInt8] = []
    /// Scratch space for incoming datagrams, kept between datagrams.
    var incoming: [UInt8] = []

    /// Datagram listeners with writes not yet flushed.
    private var unflushed: Set<Int> = []
    /// Set while a UDP read batch is being handled: its datagrams go out together (sendmmsg) at its end.
    var inReadBatch = false

    /// Sends what the datagram listeners have queued: one sendmmsg(2) per listener and batch.
    func flushDatagrams() {
        for listener in unflushed { datagramChannels[listener]?.flush() }
        unflushed.removeAll(keepingCapacity: true)
    }

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
        guard let index = datagramChannels[listener] != nil ? listener : datagramChannels.keys.first,
            let channel = datagramChannels[index], let address = socketAddress(host: host, port: port)
        else {
            failed(transaction)
            return
        }
        var buffer = channel.allocator.buffer(capacity: bytes.count)
        buffer.writeBytes(bytes)
        // A promise only when a client transaction waits on the outcome (§17.1.4); the flush comes later.
        var promise: EventLoopPromise<Void>?
        if let transaction {
            promise = loop.makePromise(of: Void.self)
            promise?.futureResult.whenFailure { [self] _ in failed(transaction) }
        }
        channel.write(AddressedEnvelope(remoteAddress: address, data: buffer), promise: promise)
        unflushed.insert(index)
    }

    /// Datagram destinations by address text: the same few peers (trunks, clients in a dialog) recur, and
    /// parsing the text for every datagram costs more than the look-up.
    private var socketAddresses: [AddressKey: SocketAddress] = [:]

    private struct AddressKey: Hashable {
        var host: String
        var port: UInt16
    }

    private func socketAddress(host: String, port: UInt16) -> SocketAddress? {
        let key = AddressKey(host: host, port: port)
        if let address = socketAddresses[key] { return address }
        guard let address = try? SocketAddress(ipAddress: host, port: Int(port)) else { return nil }
        // Bounded: forgotten all at once when full, then learnt again.
        if socketAddresses.count >= 4096 { socketAddresses.removeAll(keepingCapacity: true) }
        socketAddresses[key] = address
        return address
    }

    private func failed(_ transaction: TransactionKey?) {
        guard let transaction else { return }
        // Report on the next loop turn: the core may be in the middle of producing actions.
        loop.execute { [self] in
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
        ClientBootstrap(group: loop)
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
                // The connect promise succeeds just before channelActive registers the connection:
                // look it up on the next loop turn.
                loop.execute { [self] in connected(key, host: host, result: result) }
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
        guard let flow = engine.opened(context.channel, transport: transport, listener: listener, isWebSocket: false)
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
                    engine.received(bytes, on: flow)
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

/// Receives UDP datagrams on one listener; each is one SIP message (RFC 3261 §18.1.1).
final class DatagramHandler: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>

    private let engine: ProxyEngine
    private let listener: Int

    init(engine: ProxyEngine, listener: Int) {
        self.engine = engine
        self.listener = listener
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = unwrapInboundIn(data)
        guard let host = envelope.remoteAddress.ipAddress, let port = envelope.remoteAddress.port else { return }
        let flow = Flow(listener: listener, transport: .udp, remote: PeerAddress(host: host, port: UInt16(port)))
        // What the datagrams of one read batch (up to maxMessagesPerRead) make the proxy send leaves in one
        // go when the batch ends.
        engine.inReadBatch = true
        engine.incoming.removeAll(keepingCapacity: true)
        engine.incoming.append(contentsOf: envelope.data.readableBytesView)
        engine.received(engine.incoming, on: flow)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        engine.inReadBatch = false
        engine.flushDatagrams()
        context.fireChannelReadComplete()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        // ICMP port unreachable and the like: UDP carries on.
    }
}
