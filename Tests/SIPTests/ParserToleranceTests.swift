import Testing

@testable import SIP

/// What the parser forgives (RFC 3261 §7.3.1, §7.5) and what it does with what it does not.
@Suite("Parser tolerance")
struct ParserToleranceTests {
    @Test func bareLineFeedsLeadingBlankLinesAndTabs() throws {
        let text =
            "\r\n\r\nOPTIONS sip:a@example.com SIP/2.0\nVia:\tSIP/2.0/TCP h;branch=z9hG4bKt\nFROM\t : <sip:b@example.com>;tag=1\n"
            + "to: sip:a@example.com\ncall-id:x@y\ncseq:1 OPTIONS\nsubject:\n\tfolded\twith tabs\n\n"
        let request = try #require(try parseMessage(Array(text.utf8)).request)
        #expect(request.method == .options)
        #expect(try request.headers.topVia()?.transport == "TCP")
        #expect(try request.headers.from().tag == "1")
        #expect(request.headers.first(.subject) == "folded\twith tabs")
    }

    @Test func missingBlankLineAtEndOfDatagramIsTolerated() throws {
        let request = try #require(
            try parseMessage(
                Array(
                    "OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h\r\nFrom: <sip:c@d>;tag=1\r\nTo: <sip:a@b>\r\nCall-ID: 1\r\nCSeq: 1 OPTIONS"
                        .utf8)
            ).request)
        #expect(try request.headers.cseq() == CSeq(1, .options))
        #expect(request.body.isEmpty)
    }

    @Test func requestWithBadStartLineIsAnsweredWithATag() throws {
        let bytes = wire(
            basicRequest(method: "INVITE").replacing(
                "INVITE sip:user@example.com SIP/2.0", with: "INVITE sip:user@example.com"))
        let failure = try #require(parseFailure(bytes))
        #expect(failure.error.kind == .invalidStartLine)
        #expect(failure.method == .invite)
        #expect(failure.canRespond)
        let response = try #require(failure.makeResponse(toTag: "edge1"))
        #expect(response.statusCode == .badRequest)
        #expect(response.reasonPhrase == "Bad Request (Malformed start line)")
        #expect(try response.headers.to().tag == "edge1")
        #expect(try response.headers.cseq() == CSeq(1, .invite))
        #expect(try response.headers.topVia()?.branch == "z9hG4bKbasic1")
    }

    @Test func garbageIsDropped() {
        for text in [
            "hello", "GET / HTTP/1.1\r\nHost: x\r\n\r\n", "SIP/2.0 200\r\n\r\n", "\u{0}\u{1}\u{2}", ":\r\n\r\n",
        ] {
            guard let failure = parseFailure(Array(text.utf8)) else { continue }
            #expect(!failure.canRespond)
            #expect(failure.makeResponse(toTag: "x") == nil)
        }
    }

    @Test func headerLineErrors() throws {
        let noColon = try #require(parseFailure(wire(basicRequest(extraHeaders: "NoColonHere\n"))))
        #expect(noColon.error.kind == .invalidHeaderName)
        // The headers before the bad line are kept, so the request can still be answered.
        #expect(noColon.canRespond)
        let spaceInName = try #require(parseFailure(wire(basicRequest(extraHeaders: "Bad Name: x\n"))))
        #expect(spaceInName.error.kind == .invalidHeaderName)
        let continuationFirst = try #require(
            parseFailure(Array("OPTIONS sip:a@b SIP/2.0\r\n folded: x\r\n\r\n".utf8)))
        #expect(continuationFirst.error.kind == .misplacedContinuation)
    }

    @Test func versionChecks() throws {
        let lowercase = try #require(
            try parseMessage(wire(basicRequest().replacing("SIP/2.0\n", with: "sip/2.0\n"))).request)
        #expect(lowercase.method == .options)
        for version in ["SIP/2.1", "SIP/3.0", "SIP/20.0"] {
            let failure = parseFailure(wire(basicRequest().replacing("SIP/2.0\n", with: "\(version)\n")))
            #expect(failure?.error.kind == .unsupportedVersion)
            #expect(failure?.makeResponse(toTag: "v")?.statusCode == .versionNotSupported)
        }
        for version in ["SIP/2", "SIP/2.0.1", "HTTP/1.1", "SIP/a.b"] {
            let failure = parseFailure(wire(basicRequest().replacing("SIP/2.0\n", with: "\(version)\n")))
            #expect(failure?.error.kind == .invalidStartLine)
        }
    }

    @Test func statusLineChecks() {
        for line in [
            "SIP/2.0 99 Too low", "SIP/2.0 700 Too high", "SIP/2.0 20 Short", "SIP/2.0 2000 Long", "SIP/2.0 2x0 Hex",
        ] {
            let text =
                "\(line)\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\nFrom: <sip:a@b>;tag=1\nTo: <sip:c@d>\nCall-ID: 1\nCSeq: 1 INVITE\n\n"
            let failure = parseFailure(wire(text))
            #expect(failure?.error.kind == .invalidStatusCode)
            #expect(failure?.canRespond == false)
        }
    }
}
