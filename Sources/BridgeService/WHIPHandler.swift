import NIOCore
import NIOHTTP1

/// An HTTP response the WHIP endpoint sends.
struct WHIPResponse: Sendable {
    var status: HTTPResponseStatus
    var headers: [(String, String)] = []
    var body: String = ""

    static func error(_ status: HTTPResponseStatus, _ reason: String, headers: [(String, String)] = []) -> WHIPResponse
    {
        WHIPResponse(
            status: status, headers: [("Content-Type", "text/plain; charset=utf-8")] + headers, body: reason + "\n")
    }
}

/// WHIP (RFC 9725) over HTTP/1.1: collects one request, hands it to the service, writes the
/// answer. The largest offer accepted is 64 KiB.
final class WHIPHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    static let maximumBody = 64 * 1024
    private let service: BridgeService
    private var head: HTTPRequestHead?
    private var body: [UInt8] = []
    private var tooLarge = false

    init(service: BridgeService) {
        self.service = service
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let request):
            head = request
            body.removeAll()
            tooLarge = false
        case .body(var buffer):
            if body.count + buffer.readableBytes > Self.maximumBody {
                tooLarge = true
            } else {
                body += buffer.readBytes(length: buffer.readableBytes) ?? []
            }
        case .end:
            guard let request = head else { return }
            head = nil
            let keepAlive = request.isKeepAlive
            if tooLarge {
                write(context: context, .error(.payloadTooLarge, "the offer is larger than 64 KiB"), keepAlive: false)
                return
            }
            let future = service.handle(request, body: body, eventLoop: context.eventLoop)
            future.assumeIsolated().whenComplete { result in
                switch result {
                case .success(let response): self.write(context: context, response, keepAlive: keepAlive)
                case .failure(let error):
                    self.write(context: context, .error(.internalServerError, "\(error)"), keepAlive: false)
                }
            }
        }
    }

    private func write(context: ChannelHandlerContext, _ response: WHIPResponse, keepAlive: Bool) {
        var headers = HTTPHeaders()
        for (name, value) in response.headers { headers.add(name: name, value: value) }
        headers.add(name: "Content-Length", value: "\(response.body.utf8.count)")
        if !keepAlive { headers.add(name: "Connection", value: "close") }
        context.write(
            wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: response.status, headers: headers))),
            promise: nil)
        if !response.body.isEmpty {
            context.write(
                wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(string: response.body)))),
                promise: nil)
        }
        let done = context.writeAndFlush(wrapOutboundOut(.end(nil)))
        if !keepAlive {
            done.assumeIsolated().whenComplete { _ in context.close(promise: nil) }
        }
    }
}

/// CORS (the Fetch standard's CORS protocol) for WHIP clients that are browser pages (RFC 9725
/// §4.1 expects them): a page's `fetch` with `Authorization` is preflighted with OPTIONS, and
/// its script may read `Location` and `Link` only when they are exposed. Safe by default: only
/// origins in `bridge.whip.allowed_origins` get CORS headers; a request from any other page is
/// refused outright rather than merely hidden from its script.
enum CrossOrigin {
    static let allowedMethods = "OPTIONS, POST, DELETE, PATCH"
    static let allowedHeaders = "Authorization, Content-Type, If-Match"
    static let exposedHeaders = "Location, Link, ETag, Accept-Post, Accept-Patch, WWW-Authenticate"
    /// How long a browser may cache a preflight's answer, in seconds.
    static let maximumAge = 600

    /// The headers to add to the answer: none without `Origin` (not a browser page), the CORS
    /// headers for an allowed origin, nil for one that is not allowed. `allowed` may hold `*`.
    static func headers(origin: String?, allowed: [String], preflight: Bool) -> [(String, String)]? {
        guard let origin else { return [] }
        guard allowed.contains("*") || allowed.contains(where: { $0.lowercased() == origin.lowercased() }) else {
            return nil
        }
        // The origin itself rather than `*`, with Vary, so that caches keep origins apart.
        var headers = [("Access-Control-Allow-Origin", origin), ("Vary", "Origin")]
        if preflight {
            headers += [
                ("Access-Control-Allow-Methods", allowedMethods), ("Access-Control-Allow-Headers", allowedHeaders),
                ("Access-Control-Max-Age", "\(maximumAge)"),
            ]
        } else {
            headers.append(("Access-Control-Expose-Headers", exposedHeaders))
        }
        return headers
    }
}
