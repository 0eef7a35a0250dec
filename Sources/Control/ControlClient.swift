import NIOCore
import NIOPosix

public enum ControlClientError: Error, Sendable, CustomStringConvertible {
    /// Nothing listens on the socket (no file, or connection refused).
    case notRunning(path: String)
    /// Connected, but no answer in time: the process is alive but hung or overloaded.
    case timedOut(path: String)
    /// The peer answered with a JSON-RPC error.
    case remote(ControlFailure)
    case malformedResponse(String)

    public var description: String {
        switch self {
        case .notRunning(let path): "nothing is listening on \(path)"
        case .timedOut(let path): "no answer on \(path) in time"
        case .remote(let failure): failure.message + (failure.data.flatMap(\.stringValue).map { ":\n\($0)" } ?? "")
        case .malformedResponse(let detail): "malformed response: \(detail)"
        }
    }
}

/// One control call over a Unix socket: connect, send one request line, read one response
/// line, close. Every step shares one deadline, so a stopped (SIGSTOP) peer cannot block it.
public enum ControlClient {
    public static func call(
        socketPath: String, method: String, params: JSONValue? = nil, timeout: Duration = .seconds(5)
    ) async throws(ControlClientError) -> JSONValue {
        let group = MultiThreadedEventLoopGroup.singleton
        let promise = group.any().makePromise(of: ByteBuffer.self)
        let channel: Channel
        do {
            channel = try await ClientBootstrap(group: group)
                .connectTimeout(.nanoseconds(Int64(timeout.nanosecondsClamped)))
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandlers(
                            ByteToMessageHandler(ControlFrameDecoder()), ResponseCollector(promise: promise))
                    }
                }
                .connect(unixDomainSocketPath: socketPath).get()
        } catch {
            promise.fail(error)
            if error is ChannelError, case .connectTimeout = error as! ChannelError {
                throw .timedOut(path: socketPath)
            }
            throw .notRunning(path: socketPath)
        }
        let deadline = channel.eventLoop.scheduleTask(in: .nanoseconds(Int64(timeout.nanosecondsClamped))) {
            promise.fail(ControlClientError.timedOut(path: socketPath))
        }
        let request = ControlRequest(id: 1, method: method, params: params)
        channel.writeAndFlush(ByteBuffer(bytes: ControlCodec.encodeLine(request)), promise: nil)
        let line: ByteBuffer
        do {
            line = try await promise.futureResult.get()
        } catch let error as ControlClientError {
            deadline.cancel()
            channel.close(promise: nil)
            throw error
        } catch {
            deadline.cancel()
            channel.close(promise: nil)
            throw .malformedResponse("connection closed before an answer (\(error))")
        }
        deadline.cancel()
        channel.close(promise: nil)
        let response: ControlResponse
        do {
            response = try ControlCodec.decodeResponse(line.readableBytesView)
        } catch {
            throw .malformedResponse("\(error)")
        }
        if let failure = response.error { throw .remote(failure) }
        return response.result ?? .null
    }
}

/// Completes the promise with the first line; fails it if the connection closes first.
private final class ResponseCollector: ChannelInboundHandler, Sendable {
    typealias InboundIn = ByteBuffer
    private let promise: EventLoopPromise<ByteBuffer>

    init(promise: EventLoopPromise<ByteBuffer>) { self.promise = promise }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        promise.succeed(unwrapInboundIn(data))
    }

    func channelInactive(context: ChannelHandlerContext) {
        promise.fail(ChannelError.eof)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        promise.fail(error)
        context.close(promise: nil)
    }
}

extension Duration {
    var nanosecondsClamped: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }
}
