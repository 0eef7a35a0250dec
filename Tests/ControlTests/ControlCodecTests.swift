import Control
import Foundation
import Logging
import NIOCore
import NIOEmbedded
import NIOTestUtils
import Testing

#if canImport(Glibc)
    import Glibc
#endif

private func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

/// The failure `decodeRequest` returns, or a recorded issue when it accepted the line.
private func failure(_ line: String, sourceLocation: SourceLocation = #_sourceLocation) -> ControlFailure? {
    switch ControlCodec.decodeRequest(bytes(line)) {
    case .success(let request):
        Issue.record("expected \(line) to be rejected, got \(request)", sourceLocation: sourceLocation)
        return nil
    case .failure(let failure):
        return failure
    }
}

@Suite struct ControlCodecTests {
    // MARK: Requests

    @Test func decodesAValidRequest() throws {
        let line = #"{"jsonrpc":"2.0","id":7,"method":"status","params":{"verbose":true,"depth":2}}"#
        let request = try ControlCodec.decodeRequest(bytes(line)).get()
        #expect(request.jsonrpc == "2.0")
        #expect(request.id == 7)
        #expect(request.method == "status")
        #expect(request.params == ["verbose": true, "depth": 2])
        #expect(request == ControlRequest(id: 7, method: "status", params: ["verbose": true, "depth": 2]))
    }

    @Test func requestWithoutIDOrParams() throws {
        let request = try ControlCodec.decodeRequest(bytes(#"{"jsonrpc":"2.0","method":"stop"}"#)).get()
        #expect(request.method == "stop")
        #expect(request.id == JSONValue.null)
        #expect(request.params == nil)
        let nullParams = try ControlCodec.decodeRequest(bytes(#"{"jsonrpc":"2.0","method":"x","params":null}"#)).get()
        #expect(nullParams.method == "x")
    }

    @Test func nonJSONIsAParseError() {
        #expect(failure("this is not json")?.code == -32_700)
        #expect(failure("")?.code == -32_700)
        #expect(failure(#"{"jsonrpc":"2.0""#)?.code == -32_700)
    }

    @Test func nonObjectIsAnInvalidRequest() {
        #expect(failure(#"[{"jsonrpc":"2.0","method":"status"}]"#)?.code == -32_600)
        #expect(failure(#""status""#)?.code == -32_600)
        #expect(failure("42")?.code == -32_600)
    }

    @Test func missingOrWrongVersionIsAnInvalidRequest() {
        let missing = failure(#"{"id":1,"method":"status"}"#)
        #expect(missing?.code == -32_600)
        #expect(missing?.message.contains("jsonrpc") == true)
        #expect(failure(#"{"jsonrpc":"1.0","id":1,"method":"status"}"#)?.code == -32_600)
        #expect(failure(#"{"jsonrpc":2.0,"id":1,"method":"status"}"#)?.code == -32_600)
    }

    @Test func methodMustBeAString() {
        let number = failure(#"{"jsonrpc":"2.0","id":1,"method":5}"#)
        #expect(number?.code == -32_600)
        #expect(number?.message.contains("method") == true)
        #expect(failure(#"{"jsonrpc":"2.0","id":1}"#)?.code == -32_600)
    }

    @Test func paramsMustBeAnObject() {
        let list = failure(#"{"jsonrpc":"2.0","id":1,"method":"status","params":[1,2]}"#)
        #expect(list?.code == -32_602)
        #expect(list?.message.contains("params") == true)
        #expect(failure(#"{"jsonrpc":"2.0","id":1,"method":"status","params":"x"}"#)?.code == -32_602)
    }

    @Test func requestIDIsReadFromAnyObject() {
        #expect(ControlCodec.requestID(bytes(#"{"jsonrpc":"1.0","id":"abc","method":5}"#)) == "abc")
        #expect(ControlCodec.requestID(bytes(#"{"id":12}"#)) == 12)
        #expect(ControlCodec.requestID(bytes(#"{"method":"status"}"#)) == JSONValue.null)
        #expect(ControlCodec.requestID(bytes("not json")) == JSONValue.null)
        #expect(ControlCodec.requestID(bytes("[1,2]")) == JSONValue.null)
    }

    // MARK: Lines

    @Test func encodedLineEndsWithExactlyOneNewline() {
        let line = ControlCodec.encodeLine(ControlRequest(id: 1, method: "status", params: ["a": "b\nc"]))
        #expect(line.last == UInt8(ascii: "\n"))
        #expect(line.filter { $0 == UInt8(ascii: "\n") }.count == 1)
        #expect(line.dropLast().last != UInt8(ascii: "\n"))
        #expect(
            String(decoding: line, as: UTF8.self)
                == #"{"id":1,"jsonrpc":"2.0","method":"status","params":{"a":"b\nc"}}"# + "\n")
    }

    @Test func resultResponseRoundTrips() throws {
        let response = ControlResponse(
            id: 3, result: ["pid": 4242, "name": "turn", "ready": true, "ports": [3478, 5349], "note": "a/b"])
        let line = ControlCodec.encodeLine(response)
        #expect(line.last == UInt8(ascii: "\n"))
        #expect(String(decoding: line, as: UTF8.self).contains(#""note":"a/b""#))
        let decoded = try ControlCodec.decodeResponse(line.dropLast())
        #expect(decoded == response)
        #expect(decoded.error == nil)
        #expect(decoded.result?["pid"]?.intValue == 4242)
    }

    @Test func errorResponseRoundTrips() throws {
        let response = ControlResponse(id: "m", error: .methodNotFound("nope", available: ["status", "stop"]))
        let line = ControlCodec.encodeLine(response)
        let text = String(decoding: line, as: UTF8.self)
        #expect(!text.contains("\"result\""))
        let decoded = try ControlCodec.decodeResponse(line.dropLast())
        #expect(decoded == response)
        #expect(decoded.result == nil)
        #expect(decoded.error?.code == -32_601)
        #expect(decoded.error?.data?["available"] == ["status", "stop"])
    }

    @Test func malformedResponseThrows() {
        #expect(throws: (any Error).self) { try ControlCodec.decodeResponse(bytes("not json")) }
        #expect(throws: (any Error).self) { try ControlCodec.decodeResponse(bytes(#"{"jsonrpc":"2.0"}"#)) }
    }

    @Test func reservedErrorCodes() {
        #expect(ControlFailure.parseError("x").code == -32_700)
        #expect(ControlFailure.invalidRequest("x").code == -32_600)
        #expect(ControlFailure.invalidParams("x").code == -32_602)
        #expect(ControlFailure.internalError("x").code == -32_603)
        #expect(ControlFailure.invalidConfiguration("detail").data == "detail")
        #expect(ControlFailure(code: 1, message: "m").description == "m (1)")
    }
}

@Suite struct JSONValueTests {
    private func encoded(_ value: JSONValue) -> String {
        String(decoding: ControlCodec.encodeLine(value).dropLast(), as: UTF8.self)
    }

    @Test func integersEncodeWithoutADecimalPoint() {
        #expect(encoded(42) == "42")
        #expect(encoded(.number(-7)) == "-7")
        #expect(encoded(.number(0)) == "0")
        #expect(encoded(["a": 3, "b": .number(1.5), "c": [1, 2]]) == #"{"a":3,"b":1.5,"c":[1,2]}"#)
        #expect(encoded(JSONValue(Int32(5))) == "5")
    }

    @Test func otherValuesEncode() {
        #expect(encoded(.null) == "null")
        #expect(encoded(true) == "true")
        #expect(encoded("x/y") == #""x/y""#)
        #expect(encoded(JSONValue(nil as String?)) == "null")
    }

    @Test func decodesNestedObjects() throws {
        let text = #"{"a":{"b":[1,"x",null,{"c":false}],"d":2.5},"e":true}"#
        let value = try JSONDecoder().decode(JSONValue.self, from: Data(text.utf8))
        let expected: JSONValue = [
            "a": ["b": [1, "x", .null, ["c": false]], "d": .number(2.5)],
            "e": true,
        ]
        #expect(value == expected)
        #expect(value["a"]?["b"]?.arrayValue?.count == 4)
        #expect(value["a"]?["b"]?.arrayValue?[0].intValue == 1)
        #expect(value["a"]?["b"]?.arrayValue?[1].stringValue == "x")
        #expect(value["a"]?["d"]?.doubleValue == 2.5)
        #expect(value["a"]?["d"]?.intValue == nil)
        #expect(value["e"]?.boolValue == true)
        #expect(value["missing"] == nil)
        #expect(JSONValue.array([1])["a"] == nil)
    }

    @Test func booleansAndNumbersStayDistinct() throws {
        let value = try JSONDecoder().decode(JSONValue.self, from: Data(#"[true,1,0,false]"#.utf8))
        #expect(value == [true, 1, 0, false])
    }
}

@Suite struct ControlFrameDecoderTests {
    @Test func splitsLinesAndToleratesCRLF() throws {
        let request = #"{"jsonrpc":"2.0","method":"status"}"#
        try ByteToMessageDecoderVerifier.verifyDecoder(
            stringInputOutputPairs: [
                ("status\n", [ByteBuffer(string: "status")]),
                ("crlf\r\n", [ByteBuffer(string: "crlf")]),
                ("one\ntwo\r\n", [ByteBuffer(string: "one"), ByteBuffer(string: "two")]),
                ("\n", [ByteBuffer()]),
                (request + "\n", [ByteBuffer(string: request)]),
            ],
            decoderFactory: { ControlFrameDecoder() })
    }

    @Test func aLineLongerThanTheMaximumIsRefused() throws {
        let channel = EmbeddedChannel(handler: ByteToMessageHandler(ControlFrameDecoder()))
        var buffer = channel.allocator.buffer(capacity: ControlCodec.maximumLineLength + 1)
        buffer.writeRepeatingByte(UInt8(ascii: "a"), count: ControlCodec.maximumLineLength + 1)
        #expect(throws: ControlFrameDecoder.LineTooLong.self) {
            try channel.writeInbound(buffer)
        }
        #expect(try channel.readInbound(as: ByteBuffer.self) == nil)
        _ = try? channel.finish()
    }

    @Test func aLongLineArrivingWithItsNewlineIsAlsoRefused() throws {
        let channel = EmbeddedChannel(handler: ByteToMessageHandler(ControlFrameDecoder()))
        var buffer = channel.allocator.buffer(capacity: ControlCodec.maximumLineLength + 2)
        buffer.writeRepeatingByte(UInt8(ascii: "a"), count: ControlCodec.maximumLineLength + 1)
        buffer.writeString("\n")
        #expect(throws: ControlFrameDecoder.LineTooLong.self) {
            try channel.writeInbound(buffer)
        }
        _ = try? channel.finish()
    }

    @Test func aLineOfExactlyTheMaximumIsAccepted() throws {
        let channel = EmbeddedChannel(handler: ByteToMessageHandler(ControlFrameDecoder()))
        var buffer = channel.allocator.buffer(capacity: ControlCodec.maximumLineLength)
        buffer.writeRepeatingByte(UInt8(ascii: "a"), count: ControlCodec.maximumLineLength)
        try channel.writeInbound(buffer)
        #expect(try channel.readInbound(as: ByteBuffer.self) == nil)
        try channel.writeInbound(ByteBuffer(string: "\n"))
        let line = try #require(try channel.readInbound(as: ByteBuffer.self))
        #expect(line.readableBytes == ControlCodec.maximumLineLength)
        #expect(try channel.finish().isClean)
    }

    @Test func aFinalLineWithoutNewlineIsDeliveredAtEOF() throws {
        let channel = EmbeddedChannel(handler: ByteToMessageHandler(ControlFrameDecoder()))
        try channel.writeInbound(ByteBuffer(string: "first\nlast"))
        #expect(try channel.readInbound(as: ByteBuffer.self) == ByteBuffer(string: "first"))
        #expect(try channel.readInbound(as: ByteBuffer.self) == nil)
        channel.pipeline.fireChannelInactive()
        #expect(try channel.readInbound(as: ByteBuffer.self) == ByteBuffer(string: "last"))
        _ = try channel.finish()
    }
}

/// Passes every log message on, so a test can wait for "control socket listening" instead of polling.
private struct StreamLogHandler: LogHandler {
    let continuation: AsyncStream<String>.Continuation
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .debug

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        continuation.yield(event.message.description)
    }
}

private struct Explosion: Error {}

@Suite struct ControlServerTests {
    /// A short, unique socket path (a Unix socket path must stay under 108 bytes).
    private static func socketPath(_ tag: String) -> String {
        "/tmp/sd-\(tag)-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).sock"
    }

    private static let handler: ControlHandler = { request in
        switch request.method {
        case "status": return ControlReply(["ready": true, "echo": request.params ?? .null])
        case "explode": throw Explosion()
        case "reload": throw ControlFailure.invalidConfiguration("x.yaml:1: bad")
        default: throw ControlFailure.methodNotFound(request.method, available: ["status", "explode", "reload"])
        }
    }

    private static func fileExists(_ path: String) -> Bool {
        var info = stat()
        return lstat(path, &info) == 0
    }

    @Test(.timeLimit(.minutes(1))) func roundTripOverAUnixSocket() async throws {
        let path = Self.socketPath("rt")
        #expect(path.utf8.count < 100)
        let (messages, continuation) = AsyncStream.makeStream(of: String.self)
        let logger = Logger(label: "control-test") { _ in StreamLogHandler(continuation: continuation) }
        let server = ControlServer(socketPath: path, logger: logger, handler: Self.handler)
        let task = Task {
            defer { continuation.finish() }
            try await server.run()
        }
        var listening = false
        for await message in messages where message == "control socket listening" {
            listening = true
            break
        }
        guard listening else {
            let outcome = await task.result
            Issue.record("the server ended before listening: \(outcome)")
            return
        }

        // Only the service user may talk to it.
        var info = stat()
        try #require(stat(path, &info) == 0)
        #expect(info.st_mode & 0o777 == 0o600)
        #expect(info.st_mode & mode_t(S_IFMT) == mode_t(S_IFSOCK))

        let result = try await ControlClient.call(socketPath: path, method: "status", params: ["n": 1])
        #expect(result == ["ready": true, "echo": ["n": 1]])

        do {
            let unexpected = try await ControlClient.call(socketPath: path, method: "frobnicate")
            Issue.record("expected an error, got \(unexpected)")
        } catch {
            guard case .remote(let failure) = error else {
                Issue.record("expected .remote, got \(error)")
                return
            }
            #expect(failure.code == -32_601)
            #expect(failure.message == "method not found: frobnicate")
        }

        do {
            let unexpected = try await ControlClient.call(socketPath: path, method: "explode")
            Issue.record("expected an error, got \(unexpected)")
        } catch {
            guard case .remote(let failure) = error else {
                Issue.record("expected .remote, got \(error)")
                return
            }
            #expect(failure.code == -32_603)
        }

        do {
            let unexpected = try await ControlClient.call(socketPath: path, method: "reload")
            Issue.record("expected an error, got \(unexpected)")
        } catch {
            #expect(error.description == "invalid configuration:\nx.yaml:1: bad")
        }

        // A second server on the same path finds the first one answering and refuses.
        let second = ControlServer(socketPath: path, logger: Logger(label: "second"), handler: Self.handler)
        await #expect(throws: ControlServerError.self) { try await second.run() }
        #expect(Self.fileExists(path))
        #expect(try await ControlClient.call(socketPath: path, method: "status")["ready"] == true)

        task.cancel()
        _ = await task.result
        #expect(!Self.fileExists(path))
    }

    @Test(.timeLimit(.minutes(1))) func staleSocketFileIsReplaced() async throws {
        let path = Self.socketPath("st")
        // A file nobody answers on, as a killed process leaves behind.
        #expect(FileManager.default.createFile(atPath: path, contents: Data("stale".utf8)))
        defer { unlink(path) }
        let (messages, continuation) = AsyncStream.makeStream(of: String.self)
        let logger = Logger(label: "control-test") { _ in StreamLogHandler(continuation: continuation) }
        let server = ControlServer(socketPath: path, logger: logger, handler: Self.handler)
        let task = Task {
            defer { continuation.finish() }
            try await server.run()
        }
        var listening = false
        for await message in messages where message == "control socket listening" {
            listening = true
            break
        }
        guard listening else {
            let outcome = await task.result
            Issue.record("the server ended before listening: \(outcome)")
            return
        }
        #expect(try await ControlClient.call(socketPath: path, method: "status")["ready"] == true)
        task.cancel()
        _ = await task.result
        #expect(!Self.fileExists(path))
    }

    @Test func nothingListeningIsNotRunning() async {
        let path = Self.socketPath("none")
        do {
            let unexpected = try await ControlClient.call(socketPath: path, method: "status")
            Issue.record("expected an error, got \(unexpected)")
        } catch {
            guard case .notRunning(let reported) = error else {
                Issue.record("expected .notRunning, got \(error)")
                return
            }
            #expect(reported == path)
            #expect(error.description == "nothing is listening on \(path)")
        }
    }

    @Test func tooLongASocketPathIsRefused() async {
        let path = "/tmp/" + String(repeating: "x", count: 120)
        let server = ControlServer(socketPath: path, logger: Logger(label: "long"), handler: Self.handler)
        await #expect(throws: ControlServerError.self) { try await server.run() }
        #expect(!Self.fileExists(path))
    }
}
