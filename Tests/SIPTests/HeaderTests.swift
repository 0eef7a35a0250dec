import Testing

@testable import SIP

@Suite("Header fields")
struct HeaderTests {
    /// Every compact form of RFC 3261 §7.3.3 and the later RFCs resolves to its long name, in any case.
    @Test(arguments: [
        ("i", "Call-ID"), ("m", "Contact"), ("e", "Content-Encoding"), ("l", "Content-Length"), ("c", "Content-Type"),
        ("f", "From"), ("s", "Subject"), ("k", "Supported"), ("t", "To"), ("v", "Via"), ("o", "Event"),
        ("u", "Allow-Events"), ("r", "Refer-To"), ("b", "Referred-By"), ("x", "Session-Expires"), ("y", "Identity"),
        ("n", "Identity-Info"), ("a", "Accept-Contact"), ("j", "Reject-Contact"), ("d", "Request-Disposition"),
    ])
    func compactForms(_ compact: String, _ long: String) throws {
        #expect(SIPHeaderName(compact) == SIPHeaderName(long))
        #expect(SIPHeaderName(compact.asciiUppercased).name == long)
        #expect(SIPHeaderName(long.asciiUppercased) == SIPHeaderName(long))
        #expect(SIPHeaderName(compact).compactForm == compact)

        // And in a message (those the parser validates are covered by compactFormsInOneMessage): parsed under
        // the long name, serialized in the long form.
        guard !["l", "i", "f", "t", "v", "m", "c"].contains(compact) else { return }
        let request = try parseRequest(basicRequest(extraHeaders: "\(compact.asciiUppercased) : value\n"))
        #expect(request.headers.first(SIPHeaderName(long)) == "value")
        let text = String(decoding: SIPMessage.request(request).serialized(), as: UTF8.self)
        #expect(text.contains("\r\n\(long): value\r\n"))
    }

    @Test func compactFormsInOneMessage() throws {
        let request = try parseRequest(
            """
            INVITE sip:bob@biloxi.com SIP/2.0
            v: SIP/2.0/UDP pc33.atlanta.com;branch=z9hG4bKnashds8
            t: Bob <sip:bob@biloxi.com>
            f: Alice <sip:alice@atlanta.com>;tag=1928301774
            i: a84b4c76e66710
            CSeq: 314159 INVITE
            m: <sip:alice@pc33.atlanta.com>
            k: path, outbound
            c: application/sdp
            l: 4

            abcd
            """)
        #expect(try request.headers.topVia()?.branch == "z9hG4bKnashds8")
        #expect(try request.headers.to().displayName == "Bob")
        #expect(try request.headers.from().tag == "1928301774")
        #expect(try request.headers.callID() == "a84b4c76e66710")
        #expect(try request.headers.supported() == ["path", "outbound"])
        #expect(try request.headers.contentType() == .sdp)
        #expect(request.body == Array("abcd".utf8))
        #expect(try request.headers.maxForwards() == nil)
    }

    @Test func viaParameters() throws {
        var via = try #require(
            try Via.parseList(
                "SIP/2.0/udp [2001:db8::9]:5070 ;rport;branch=z9hG4bKx;ttl=16;maddr=224.2.0.1;received=192.0.2.7"
            )
            .first)
        #expect(via.transport == "UDP")
        #expect(via.host == .ipv6("2001:db8::9"))
        #expect(via.port == 5070)
        #expect(via.rport == .requested)
        #expect(via.ttl == 16)
        #expect(via.maddr == "224.2.0.1")
        #expect(via.received == "192.0.2.7")
        #expect(via.hasMagicCookie)
        #expect(!via.isReliableTransport)
        via.rport = .port(40123)
        via.received = "198.51.100.1"
        #expect(
            via.description
                == "SIP/2.0/UDP [2001:db8::9]:5070;rport=40123;branch=z9hG4bKx;ttl=16;maddr=224.2.0.1;received=198.51.100.1"
        )
        let built = Via(transport: "wss", host: .hostname("edge.example.com"), branch: "z9hG4bKabc")
        #expect(built.description == "SIP/2.0/WSS edge.example.com;branch=z9hG4bKabc")
        #expect(built.isReliableTransport)
    }

    @Test func receivedAndRportStamping() throws {
        // §18.2.1: sent-by is a name, so received is added; no rport asked for.
        var named = try #require(try Via.parseList("SIP/2.0/UDP phone.example.com;branch=z9hG4bK1").first)
        named.stampReceived(sourceAddress: "192.0.2.7", sourcePort: 40000)
        #expect(named.received == "192.0.2.7")
        #expect(named.rport == nil)
        #expect(named.responseDestination() == ("192.0.2.7", 5060))
        // Same address as sent-by and no rport: nothing to add.
        var same = try #require(try Via.parseList("SIP/2.0/UDP 192.0.2.7:5062;branch=z9hG4bK2").first)
        same.stampReceived(sourceAddress: "192.0.2.7", sourcePort: 5062)
        #expect(same.received == nil)
        #expect(same.responseDestination() == ("192.0.2.7", 5062))
        // RFC 3581 §4: rport asked for: port filled in, received always added (NAT case).
        var natted = try #require(try Via.parseList("SIP/2.0/UDP 10.0.0.2:5060;rport;branch=z9hG4bK3").first)
        natted.stampReceived(sourceAddress: "198.51.100.9", sourcePort: 61000)
        #expect(natted.description == "SIP/2.0/UDP 10.0.0.2:5060;rport=61000;branch=z9hG4bK3;received=198.51.100.9")
        #expect(natted.responseDestination() == ("198.51.100.9", 61000))
        var ipv6 = try #require(try Via.parseList("SIP/2.0/TLS host;rport;branch=z9hG4bK4").first)
        ipv6.stampReceived(sourceAddress: "2001:db8::5", sourcePort: 5061)
        #expect(ipv6.received == "2001:db8::5")
        #expect(ipv6.responseDestination(defaultPort: 5061) == ("2001:db8::5", 5061))
        #expect(try Via.parseList("SIP/2.0/TCP x;received=[2001:db8::5]").first?.received == "[2001:db8::5]")
    }

    @Test(arguments: [
        "", "SIP/2.0/UDP", "SIP/2.0 host", "SIP/2.0/UDP host;ttl=256", "SIP/2.0/UDP host;branch", "SIP/2.0/UDP host:0x",
        "SIP/2.0/UDP host;received=not_an@address", "SIP/2.0/UDP host;rport=70000", "SIP/2.0/UDP host,",
        "SIP/2.0/UDP host extra",
    ])
    func malformedVia(_ value: String) {
        #expect(throws: SIPParseError(.malformedHeader, header: .via)) { try Via.parseList(value) }
    }

    @Test func nameAddresses() throws {
        let quoted = try NameAddress(parsing: #""A \"quoted\" name" <sip:a@b.example>;tag=x;q=0.5"#)
        #expect(quoted.displayName == #"A "quoted" name"#)
        #expect(quoted.tag == "x")
        #expect(quoted.description == #""A \"quoted\" name" <sip:a@b.example>;tag=x;q=0.5"#)
        let bare = try NameAddress(parsing: "sip:a@b.example;tag=y")
        #expect(bare.sipURI?.parameters.isEmpty == true)
        #expect(bare.tag == "y")
        let tokens = try NameAddress(parsing: "Alice  Smith <tel:+15551234>")
        #expect(tokens.displayName == "Alice  Smith")
        #expect(tokens.uri == .absolute("tel:+15551234"))
        for bad in [
            "<sip:a@b", "\"x <sip:a@b>", "<>", "a@b", "Bell, A <sip:a@b>", "<sip:a@b> junk", "<sip:a@b>;",
            "sip:a@b?x=y",
        ] {
            #expect(throws: SIPParseError.self) { try NameAddress(parsing: bad) }
        }
    }

    @Test func addressListsAcrossLinesAndCommas() throws {
        let headers: SIPHeaders = [
            (.route, "<sip:p1.example.com;lr>, <sip:p2.example.com;lr>"), (.via, "SIP/2.0/TCP a"),
            (.route, "\"Proxy, three\" <sip:p3.example.com;lr>"), (.path, "<sip:pcscf.example.com;lr>"),
            (.recordRoute, "<sip:rr.example.com;lr>"), (.contact, "*"),
        ]
        let routes = try headers.routes()
        #expect(routes.map { $0.sipURI?.host.description } == ["p1.example.com", "p2.example.com", "p3.example.com"])
        #expect(routes[2].displayName == "Proxy, three")
        #expect(try headers.paths().count == 1)
        #expect(try headers.recordRoutes().count == 1)
        #expect(try headers.contact() == .wildcard)
    }

    @Test func scalarHeaders() throws {
        let headers: SIPHeaders = [
            (.cseq, "  42   REGISTER "), (.maxForwards, "255"), (.contentLength, "0010"), (.require, "100rel,  timer"),
            (.supported, ""), (.callID, "abc@def@ghi"),
        ]
        #expect(try headers.cseq() == CSeq(42, .register))
        #expect(try headers.maxForwards() == 255)
        #expect(try headers.contentLength() == 10)
        #expect(try headers.require() == ["100rel", "timer"])
        #expect(try headers.supported() == [])
        #expect(throws: SIPParseError(.malformedHeader, header: .callID)) { try headers.callID() }
        #expect(throws: SIPParseError(.malformedHeader, header: .cseq)) { try CSeq(parsing: "42REGISTER") }
        #expect(throws: SIPParseError(.malformedHeader, header: .cseq)) { try CSeq(parsing: "4294967296 INVITE") }
        #expect(try CSeq(parsing: "4294967295 INVITE").sequence == .max)
        #expect(throws: SIPParseError(.missingHeader, header: .from)) { try headers.from() }
    }

    @Test func headerListEditing() {
        var headers: SIPHeaders = [
            (.via, "SIP/2.0/UDP a;branch=z9hG4bK1, SIP/2.0/UDP b;branch=z9hG4bK2"), (.to, "<sip:x@y>"),
        ]
        #expect(headers.removeFirstValue(.via) == "SIP/2.0/UDP a;branch=z9hG4bK1")
        #expect(headers.first(.via) == "SIP/2.0/UDP b;branch=z9hG4bK2")
        headers.prepend(.via, "SIP/2.0/TCP c;branch=z9hG4bK3")
        #expect(headers[.via] == ["SIP/2.0/TCP c;branch=z9hG4bK3", "SIP/2.0/UDP b;branch=z9hG4bK2"])
        headers.set(.via, "SIP/2.0/TLS d")
        #expect(headers.count(of: .via) == 1)
        headers.removeAll(.via)
        #expect(!headers.contains(.via))
        #expect(headers.removeFirstValue(.via) == nil)
    }

    @Test func parseErrorsHaveSafeReasons() {
        let extensionError = SIPParseError(.malformedHeader, header: SIPHeaderName("X-Evil\r\nInjected"))
        #expect(extensionError.reasonPhrase == "Bad Request (Malformed extension header)")
        #expect(SIPParseError(.missingHeader, header: .callID).reasonPhrase == "Bad Request (Missing Call-ID)")
        #expect(SIPParseError(.unsupportedVersion).responseStatus == .versionNotSupported)
    }
}
