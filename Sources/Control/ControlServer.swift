import Foundation
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle

/// What a handler returns: the result, and optionally work to do once the reply is on its way
/// (`stop` replies first, then shuts the process down).
public struct ControlReply: Sendable {
    public var result: JSONValue
    public var afterReply: (@Sendable () async -> Void)?

    public init(_ result: JSONValue, afterReply: (@Sendable () async -> Void)? = nil) {
        self.result = result
        self.afterReply = afterReply
    }
}

/// Answers control requests; the server calls it once per request line.
/// Throwing a `ControlFailure` answers with that error; any other error becomes -32603.
public typealias ControlHandler = @Sendable (ControlRequest) async throws -> ControlReply

public enum ControlServerError: Error, CustomStringConvertible {
    case alreadyServed(path: String)
    case pathTooLong(path: String)

    public var description: String {
        switch self {
        case .alreadyServed(let path): "another process already answers on \(path)"
        case .pathTooLong(let path): "socket path is longer than a Unix socket allows (107 bytes): \(path)"
        }
    }
}

/// Serves the control protocol on a Unix domain socket with mode 0600 (only the service user
/// may talk to it). A stale socket file left by a killed process is replaced; a live one is not.
public struct ControlServer: Service {
    public let socketPath: String
    private let handler: ControlHandler
    private let logger: Logger

    public init(socketPath: String, logger: Logger, handler: @escaping ControlHandler) {
        self.socketPath = socketPath
        self.logger = logger
        self.handler = handler
    }

    public func run() async throws {
        try await Self.removeStaleSocket(at: socketPath)
        // The programs run with umask 077, so the socket is never wider than 0700 before the
        // chmod below narrows it to 0600; the umask is not changed here, since it is per process.
        let server = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .bind(unixDomainSocketPath: socketPath) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(ControlFrameDecoder()))
                    return try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
                }
            }
        chmod(socketPath, 0o600)
        logger.debug("control socket listening", metadata: ["socket": "\(socketPath)"])
        defer { unlink(socketPath) }

        try await withGracefulShutdownHandler {
            try await withThrowingDiscardingTaskGroup { group in
                try await server.executeThenClose { connections in
                    for try await connection in connections {
                        group.addTask { await serve(connection) }
                    }
                }
            }
        } onGracefulShutdown: {
            server.channel.close(promise: nil)
        }
    }

    private func serve(_ connection: NIOAsyncChannel<ByteBuffer, ByteBuffer>) async {
        do {
            try await connection.executeThenClose { inbound, outbound in
                for try await line in inbound {
                    let bytes = line.readableBytesView
                    var afterReply: (@Sendable () async -> Void)?
                    let response: ControlResponse
                    switch ControlCodec.decodeRequest(bytes) {
                    case .failure(let failure):
                        response = ControlResponse(id: ControlCodec.requestID(bytes), error: failure)
                    case .success(let request):
                        do {
                            let reply = try await handler(request)
                            afterReply = reply.afterReply
                            response = ControlResponse(id: request.id ?? .null, result: reply.result)
                        } catch let failure as ControlFailure {
                            response = ControlResponse(id: request.id ?? .null, error: failure)
                        } catch {
                            response = ControlResponse(id: request.id ?? .null, error: .internalError("\(error)"))
                        }
                    }
                    try await outbound.write(ByteBuffer(bytes: ControlCodec.encodeLine(response)))
                    if let afterReply {
                        Task { await afterReply() }
                    }
                }
            }
        } catch {
            logger.debug("control connection ended", metadata: ["error": "\(error)"])
        }
    }

    /// Unlinks a socket file nobody answers on; refuses when a live process still serves it.
    static func removeStaleSocket(at path: String) async throws {
        guard path.utf8.count < 108 else { throw ControlServerError.pathTooLong(path: path) }
        guard FileManager.default.fileExists(atPath: path) else { return }
        do {
            _ = try await ControlClient.call(socketPath: path, method: "status", timeout: .milliseconds(500))
            throw ControlServerError.alreadyServed(path: path)
        } catch let error as ControlClientError {
            switch error {
            case .notRunning: unlink(path)
            // Something accepts connections there but does not answer: leave it alone.
            case .timedOut, .remote, .malformedResponse: throw ControlServerError.alreadyServed(path: path)
            }
        }
    }
}
