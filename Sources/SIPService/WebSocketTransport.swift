import NIOCore
import NIOHTTP1
import NIOWebSocket
import SIPProxy

/// SIP over WebSocket (RFC 7118): the HTTP upgrade with subprotocol `sip`, the configured path and an
/// Origin allow list, then one SIP message per WebSocket message.
enum WebSocketTransport {
    /// Adds the HTTP server pipeline with the WebSocket upgrader to a freshly accepted channel.
    static func configure(
        _ channel: Channel, engine: ProxyEngine, listener: Int, path: String,
        origins: @escaping @Sendable () -> [String],
        maxMessageSize: Int, pingInterval: TimeAmount?, transport: SIPTransport
    ) throws {
        let upgrader = NIOWebSocketServerUpgrader(
            maxFrameSize: maxMessageSize,
            shouldUpgrade: { channel, head in
                channel.eventLoop.makeSucceededFuture(
                    acceptance(of: head, path: path, allowedOrigins: origins()))
            },
            upgradePipelineHandler: { channel, _ in
                // The refusal handler only speaks HTTP: it must go before WebSocket frames flow.
                channel.pipeline.removeHandler(name: RefusedUpgradeHandler.name).flatMapThrowing {
                    try channel.pipeline.syncOperations.addHandler(
                        WebSocketSIPHandler(
                            engine: engine, transport: transport, listener: listener, maxMessageSize: maxMessageSize,
                            pingInterval: pingInterval))
                }
            })
        try channel.pipeline.syncOperations.configureHTTPServerPipeline(
            withServerUpgrade: (upgraders: [upgrader], completionHandler: { _ in }))
        try channel.pipeline.syncOperations.addHandler(RefusedUpgradeHandler(), name: RefusedUpgradeHandler.name)
    }

    /// The extra response headers when the handshake is acceptable (`Sec-WebSocket-Protocol: sip`,
    /// RFC 7118 §4.1), or nil to refuse it: wrong path, no `sip` subprotocol offered, or an Origin that
    /// is not allowed (RFC 6455 §10.2). A handshake without Origin does not come from a browser page.
    static func acceptance(of head: HTTPRequestHead, path: String, allowedOrigins: [String]) -> HTTPHeaders? {
        let requestPath = head.uri.split(separator: "?", maxSplits: 1).first.map(String.init) ?? head.uri
        guard requestPath == path else { return nil }
        let offered = head.headers[canonicalForm: "Sec-WebSocket-Protocol"].map { $0.lowercased() }
        guard offered.contains("sip") else { return nil }
        if let origin = head.headers.first(name: "Origin"),
            !allowedOrigins.contains("*"),
            !allowedOrigins.contains(where: { $0.lowercased() == origin.lowercased() })
        {
            return nil
        }
        return HTTPHeaders([("Sec-WebSocket-Protocol", "sip")])
    }
}

/// Answers what the upgrader refused (or plain HTTP) with 403 and closes.
final class RefusedUpgradeHandler: ChannelInboundHandler, RemovableChannelHandler {
    static let name = "sip-websocket-refusal"
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard case .end = unwrapInboundIn(data) else { return }
        let head = HTTPResponseHead(
            version: .http1_1, status: .forbidden, headers: ["Content-Length": "0", "Connection": "close"])
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        let bound = NIOLoopBound(context, eventLoop: context.eventLoop)
        context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in bound.value.close(promise: nil) }
    }
}

/// One SIP message per WebSocket message (RFC 7118 §5.1), text or binary, fragments joined up to the size
/// limit; pings answered, idle connections pinged (RFC 6455 §5.5.2) so NAT bindings stay open and dead
/// peers are noticed.
final class WebSocketSIPHandler: ChannelInboundHandler {
    typealias InboundIn = WebSocketFrame
    typealias OutboundOut = WebSocketFrame

    private let engine: ProxyEngine
    private let transport: SIPTransport
    private let listener: Int
    private let maxMessageSize: Int
    private let pingInterval: TimeAmount?
    private var flow: Flow?
    private var pending: [UInt8] = []
    private var pinger: RepeatedTask?
    private var awaitingPong = false

    init(engine: ProxyEngine, transport: SIPTransport, listener: Int, maxMessageSize: Int, pingInterval: TimeAmount?) {
        self.engine = engine
        self.transport = transport
        self.listener = listener
        self.maxMessageSize = maxMessageSize
        self.pingInterval = pingInterval
    }

    func handlerAdded(context: ChannelHandlerContext) {
        let loop = context.eventLoop
        let refusal = NIOLoopBound((handler: self, context: context), eventLoop: loop)
        let refuse: @Sendable () -> Void = {
            loop.execute {
                let (handler, context) = refusal.value
                handler.close(context, code: .policyViolation)
            }
        }
        guard
            let flow = engine.opened(
                context.channel, transport: transport, listener: listener, isWebSocket: true, refuse: refuse)
        else {
            close(context, code: .policyViolation)
            return
        }
        self.flow = flow
        if let pingInterval {
            let loopBound = NIOLoopBound((handler: self, context: context), eventLoop: context.eventLoop)
            pinger = context.eventLoop.scheduleRepeatedTask(initialDelay: pingInterval, delay: pingInterval) { _ in
                let (handler, context) = loopBound.value
                handler.ping(context)
            }
        }
    }

    private func ping(_ context: ChannelHandlerContext) {
        if awaitingPong {
            // Nothing arrived since the last ping, not even its pong: the peer is gone.
            context.close(promise: nil)
            return
        }
        awaitingPong = true
        let frame = WebSocketFrame(fin: true, opcode: .ping, data: context.channel.allocator.buffer(capacity: 0))
        context.writeAndFlush(wrapOutboundOut(frame), promise: nil)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        pinger?.cancel()
        if let flow { engine.closed(flow) }
        flow = nil
    }

    func channelInactive(context: ChannelHandlerContext) {
        pinger?.cancel()
        if let flow { engine.closed(flow) }
        flow = nil
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        awaitingPong = false
        switch frame.opcode {
        case .text, .binary, .continuation:
            var payload = frame.unmaskedData
            pending += payload.readBytes(length: payload.readableBytes) ?? []
            guard pending.count <= maxMessageSize else {
                close(context, code: .messageTooLarge)
                return
            }
            if frame.fin, let flow {
                let message = pending
                pending = []
                engine.deliver(message, on: flow)
            }
        case .ping:
            let pong = WebSocketFrame(fin: true, opcode: .pong, data: frame.unmaskedData)
            context.writeAndFlush(wrapOutboundOut(pong), promise: nil)
        case .connectionClose:
            close(context, code: .normalClosure)
        default:
            break
        }
    }

    private func close(_ context: ChannelHandlerContext, code: WebSocketErrorCode) {
        var buffer = context.channel.allocator.buffer(capacity: 2)
        buffer.write(webSocketErrorCode: code)
        let frame = WebSocketFrame(fin: true, opcode: .connectionClose, data: buffer)
        let bound = NIOLoopBound(context, eventLoop: context.eventLoop)
        context.writeAndFlush(wrapOutboundOut(frame)).whenComplete { _ in bound.value.close(promise: nil) }
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        context.close(promise: nil)
    }
}
