import Testing

@testable import SIP

@Suite("Stream framing")
struct StreamFramerTests {
    func message(_ tag: String, body: String = "") -> [UInt8] {
        wire(basicRequest(extraHeaders: "X-Tag: \(tag)\n", body: body))
    }

    func drain(_ framer: inout StreamFramer) throws -> [StreamFramer.Output] {
        var outputs: [StreamFramer.Output] = []
        while let output = try framer.next() { outputs.append(output) }
        return outputs
    }

    @Test func manyMessagesInOneRead() throws {
        let first = message("1", body: "hello")
        let second = message("2")
        var framer = StreamFramer()
        framer.append(first + Array("\r\n\r\n".utf8) + second + Array("\r\n".utf8))
        let outputs = try drain(&framer)
        #expect(outputs == [.message(first), .keepAlivePing, .message(second)])
        // The lone trailing CRLF might start a ping: it waits.
        #expect(framer.bufferedByteCount == 2)
        framer.append(Array("OPT".utf8))
        #expect(try drain(&framer).isEmpty)
    }

    @Test func byteByByteDripFeed() throws {
        let stream = Array("\r\n".utf8) + message("a", body: "x\r\n\r\ny") + Array("\r\n\r\n".utf8) + message("b")
        var framer = StreamFramer()
        var outputs: [StreamFramer.Output] = []
        for byte in stream {
            framer.append([byte])
            outputs += try drain(&framer)
        }
        #expect(outputs == [.message(message("a", body: "x\r\n\r\ny")), .keepAlivePing, .message(message("b"))])
        #expect(framer.bufferedByteCount == 0)
    }

    @Test func framesParse() throws {
        var framer = StreamFramer()
        framer.append(message("z", body: "body"))
        guard case .message(let bytes) = try framer.next() else {
            Issue.record("no message")
            return
        }
        let request = try #require(try parseMessage(bytes).request)
        #expect(request.body == Array("body".utf8))
    }

    @Test func compactContentLengthAndMissingLength() throws {
        let compact = wire("OPTIONS sip:a@b SIP/2.0\nl : 3\n\nabcOPTIONS sip:c@d SIP/2.0\n\n")
        var framer = StreamFramer()
        framer.append(compact)
        let outputs = try drain(&framer)
        #expect(outputs.count == 2)
        #expect(outputs.last == .message(wire("OPTIONS sip:c@d SIP/2.0\n\n")))
    }

    @Test func errorsAreFinal() {
        var negative = StreamFramer()
        negative.append(wire("INVITE sip:a@b SIP/2.0\nContent-Length: -999\n\n"))
        #expect(throws: StreamFramer.FramingError.invalidContentLength) { try negative.next() }
        negative.append(message("later"))
        #expect(throws: StreamFramer.FramingError.invalidContentLength) { try negative.next() }

        var conflicting = StreamFramer()
        conflicting.append(wire("INVITE sip:a@b SIP/2.0\nContent-Length: 13\nl: 5\n\n"))
        #expect(throws: StreamFramer.FramingError.invalidContentLength) { try conflicting.next() }

        var huge = StreamFramer()
        huge.append(wire("INVITE sip:a@b SIP/2.0\nContent-Length: 99999999999999999999\n\n"))
        #expect(throws: StreamFramer.FramingError.messageTooLarge) { try huge.next() }

        var endless = StreamFramer(limits: .init(maxHeaderBytes: 1024, maxMessageSize: 4096))
        endless.append(Array("INVITE sip:a@b SIP/2.0\r\n".utf8))
        for _ in 0..<100 { endless.append(Array("X-Filler: aaaaaaaaaaaaaaaaaaaa\r\n".utf8)) }
        #expect(throws: StreamFramer.FramingError.headerTooLarge) { try endless.next() }
    }

    @Test func bufferIsCompacted() throws {
        var framer = StreamFramer()
        let one = message("c", body: String(repeating: "b", count: 500))
        for _ in 0..<200 {
            framer.append(one)
            #expect(try framer.next() == .message(one))
        }
        #expect(framer.bufferedByteCount == 0)
    }
}
